"""`POST /v1/uploads/videos` and `/v1/uploads/images` of the simulator: store a multipart
`file` under a directory."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web

CHUNK = 1024 * 1024
VIDEO_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}
IMAGE_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
MAX_IMAGE_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Kind:
    """What an upload endpoint takes: file types, the word for it, where it is served."""

    types: Mapping[str, str]
    word: str  # "Video" or "Image", in refusals
    folder: str  # served at {base_url}/uploads/{folder}/{name}


VIDEOS = Kind(VIDEO_TYPES, "Video", "videos")
IMAGES = Kind(IMAGE_TYPES, "Image", "images")


def _refusal(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"success": False, "message": message}


def video_type(
    filename: str | None, content_type: str | None, types: Mapping[str, str] = VIDEO_TYPES
) -> tuple[str, str] | None:
    """(extension, mime type) of an accepted file by file name or content type."""
    ext = PurePosixPath(filename or "").suffix.lower()
    if ext in types:
        return ext, types[ext]
    mime = (content_type or "").split(";")[0].strip().lower()
    extensions = {kind: extension for extension, kind in types.items()}
    if mime in extensions:
        return extensions[mime], mime
    return None


async def receive_upload(
    request: web.Request,
    directory: Path,
    *,
    max_bytes: int,
    base_url: str,
    kind: Kind = VIDEOS,
) -> tuple[int, dict[str, Any]]:
    """Read the form, store `file` and return (HTTP status, body) as toapis answers."""
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        return _refusal("Expected a multipart form with a file field")
    while True:
        part = await reader.next()
        if part is None:
            return _refusal("No file uploaded")
        if not isinstance(part, BodyPartReader):
            continue
        if part.name != "file":
            await part.release()
            continue
        found = video_type(part.filename, part.headers.get("Content-Type"), kind.types)
        if found is None:
            await part.release()
            return _refusal("Unsupported file type")
        where = (directory, f"{base_url}/uploads/{kind.folder}")
        return await _store(part, where, found, max_bytes=max_bytes, word=kind.word)


async def _store(
    part: BodyPartReader,
    where: tuple[Path, str],
    found: tuple[str, str],
    *,
    max_bytes: int,
    word: str,
) -> tuple[int, dict[str, Any]]:
    (directory, served), (ext, mime) = where, found
    token = secrets.token_hex(4)
    name = f"{int(time.time())}_{token}{ext}"
    path = directory / name
    size = 0
    handle: BinaryIO = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                break
            await asyncio.to_thread(handle.write, chunk)
    finally:
        await asyncio.to_thread(handle.close)
    if size > max_bytes:
        await part.release()  # drain the rest so the client can read our answer
        with contextlib.suppress(OSError):
            await asyncio.to_thread(path.unlink)
        megabytes, rest = divmod(max_bytes, 1024 * 1024)
        limit = f"{megabytes}MB" if rest == 0 else f"{max_bytes} bytes"
        return _refusal(f"{word} too large. Maximum size is {limit}")
    data = {
        "id": f"upload_{token}",
        "url": f"{served}/{name}",
        "mime_type": mime,
        "size": size,
    }
    return 200, {"success": True, "message": "", "data": data}
