"""`POST /v1/uploads/videos` of the simulator: store a multipart `file` under a directory."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from aiohttp import BodyPartReader, web

CHUNK = 1024 * 1024
VIDEO_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
}
_EXTENSIONS = {mime: ext for ext, mime in VIDEO_TYPES.items()}


def _refusal(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"success": False, "message": message}


def video_type(filename: str | None, content_type: str | None) -> tuple[str, str] | None:
    """(extension, mime type) of an accepted video by file name or content type."""
    ext = PurePosixPath(filename or "").suffix.lower()
    if ext in VIDEO_TYPES:
        return ext, VIDEO_TYPES[ext]
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in _EXTENSIONS:
        return _EXTENSIONS[mime], mime
    return None


async def receive_upload(
    request: web.Request, directory: Path, *, max_bytes: int, base_url: str
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
        kind = video_type(part.filename, part.headers.get("Content-Type"))
        if kind is None:
            await part.release()
            return _refusal("Unsupported file type")
        return await _store(part, directory, kind, max_bytes=max_bytes, base_url=base_url)


async def _store(
    part: BodyPartReader,
    directory: Path,
    kind: tuple[str, str],
    *,
    max_bytes: int,
    base_url: str,
) -> tuple[int, dict[str, Any]]:
    ext, mime = kind
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
        return _refusal(f"Video too large. Maximum size is {limit}")
    data = {
        "id": f"upload_{token}",
        "url": f"{base_url}/uploads/videos/{name}",
        "mime_type": mime,
        "size": size,
    }
    return 200, {"success": True, "message": "", "data": data}
