"""Media routes of the fake Discord: registered files with HTTP Range support, uploads."""

from __future__ import annotations

import mimetypes
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes import payloads
from tests.fakes.discord_store import MessageStore

CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """`(start, end)` inclusive for a single byte range, None without one, False if invalid."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return False
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or end < start:
        return False
    return start, end


class MediaRoutes:
    """`GET /media/{name}` for files given to `add_media`, `GET /attachments/{id}/{name}`."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.files: dict[str, Path] = {}
        self.bytes_sent: defaultdict[str, int] = defaultdict(int)
        self.requests: defaultdict[str, int] = defaultdict(int)

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp route definitions."""
        return [
            web.get("/media/{name}", self.media),
            web.get("/attachments/{id}/{filename}", self.uploaded),
        ]

    def add(self, name: str, path: str | Path) -> None:
        """Serve `path` at `/media/{name}`."""
        self.files[name] = Path(path)

    def url(self, name: str) -> str:
        """The URL of a registered media file."""
        return f"{self.store.root_url}/media/{name}"

    def attachment(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """An attachment payload whose `url` and `proxy_url` point at `/media/{name}`."""
        path = self.files[name]
        kwargs.setdefault("filename", name)
        kwargs.setdefault("content_type", mimetypes.guess_type(name)[0] or "video/mp4")
        return payloads.attachment(url=self.url(name), size=path.stat().st_size, **kwargs)

    async def media(self, request: web.Request) -> web.StreamResponse:
        """Serve a registered file, honouring a single `Range`, counting bytes written."""
        name = request.match_info["name"]
        path = self.files.get(name)
        if path is None or not path.is_file():
            raise web.HTTPNotFound()
        self.requests[name] += 1
        size = path.stat().st_size
        span = parse_range(request.headers.get("Range"), size)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"Accept-Ranges": "bytes", "Content-Type": content_type}
        if span is False:
            headers["Content-Range"] = f"bytes */{size}"
            return web.Response(status=416, headers=headers)
        start, end = span if isinstance(span, tuple) else (0, size - 1)
        status = 206 if isinstance(span, tuple) else 200
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start + 1
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        with path.open("rb") as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                await response.write(chunk)
                self.bytes_sent[name] += len(chunk)
                left -= len(chunk)
        await response.write_eof()
        return response

    async def uploaded(self, request: web.Request) -> web.Response:
        """The bytes of a file the bot uploaded (attachment `url`s point here)."""
        ident = request.match_info["id"]
        data = self.store.uploads.get(int(ident)) if ident.isdigit() else None
        if data is None:
            raise web.HTTPNotFound()
        content_type = mimetypes.guess_type(request.match_info["filename"])[0]
        return web.Response(body=data, content_type=content_type or "application/octet-stream")
