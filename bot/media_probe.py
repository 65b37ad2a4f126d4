"""Pre-flight probing of a video URL: fetch only the bytes the demuxer asks for.

`CheckedReader` is a seekable file-like object over HTTP(S) that issues `Range` requests,
follows redirects itself and refuses private addresses on every hop. PyAV reads stream
information through it; the URL itself is never handed to ffmpeg.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import av
import httpx

from bot.net_guard import UnsafeURLError, check_url_shape, is_public_address
from bot.ranges import format_clock

CHUNK_SIZE = 256 * 1024
CACHE_CHUNKS = 8
MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024**2
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_DURATION = 4 * 3600.0
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class MediaError(ValueError):
    """A video we will not use; the message is shown to the user as is.

    `kind` is one of not_a_video, no_audio, too_long, too_big, private_address,
    download_failed, range_outside, or unreachable (no connection could be made).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _mb(size: int) -> str:
    return f"{size / 1048576:.0f} MB"


def _parse_size(text: str) -> int:
    """A byte count from a header; absurd values are refused, never a crash."""
    if len(text) > 18:  # over an exabyte: not a video anyone can send us
        raise MediaError("too_big", "That video is far too large.")
    return int(text)


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (a seam for tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CheckedReader(io.RawIOBase):
    """A read-only, seekable view of an HTTP(S) resource fetched by byte ranges."""

    def __init__(
        self,
        url: str,
        *,
        allow_private: bool,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        chunk_size: int = CHUNK_SIZE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.max_download_bytes = max_download_bytes
        self.chunk_size = chunk_size
        self.size: int | None = None
        self.bytes_read = 0
        self.error: MediaError | None = None
        self._deadline = time.monotonic() + timeout
        self._client = httpx.Client(follow_redirects=False, transport=transport)
        self._checked_hosts: set[tuple[str, int]] = set()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._pos = 0
        self._sequential: bytearray | None = None  # set when the server ignores Range
        self._stream: httpx.Response | None = None
        self._chunks: Any = None
        self._eof = False
        try:
            self._fetch_chunk(0)  # learns the size and whether Range is honoured
        except BaseException:
            self.close()
            raise

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Seekable (sequential servers are buffered in memory up to a cap)."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position; `SEEK_END` needs a known size."""
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            if self.size is None:
                raise OSError("size unknown")
            target = self.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def read(self, size: int = -1) -> bytes:
        """Read up to `size` bytes from the current position."""
        try:
            return self._read(size)
        except MediaError as exc:
            self.error = self.error or exc
            raise

    def close(self) -> None:
        """Close the HTTP client and any open stream."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._client.close()
        super().close()

    def _read(self, size: int) -> bytes:
        if size is None or size < 0:
            size = self.max_download_bytes
        if self.size is not None:
            size = min(size, max(0, self.size - self._pos))
        if size == 0:
            return b""
        if self._sequential is not None:
            return self._read_sequential(size)
        out = bytearray()
        while len(out) < size:
            index, within = divmod(self._pos, self.chunk_size)
            chunk = self._fetch_chunk(index)
            piece = chunk[within : within + size - len(out)]
            if self._sequential is not None:  # the server stopped honouring Range
                return bytes(out) + self._read_sequential(size - len(out))
            if not piece:
                break
            out += piece
            self._pos += len(piece)
        return bytes(out)

    def _fetch_chunk(self, index: int) -> bytes:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        start = index * self.chunk_size
        end = start + self.chunk_size - 1
        if self.size is not None:
            if start >= self.size:
                return b""
            end = min(end, self.size - 1)
        response = self._get(headers={"Range": f"bytes={start}-{end}"})
        if response.status_code == 200:
            self._start_sequential(response)
            return b""
        try:
            if response.status_code == 416:  # empty file: "Content-Range: bytes */0"
                self._learn_size(response, None)
                return b""
            if response.status_code != 206:
                raise MediaError(
                    "download_failed",
                    f"Could not download the video (HTTP {response.status_code}).",
                )
            self._learn_size(response, start)
            data = self._read_body(response, end - start + 1)
        finally:
            response.close()
        self._cache[index] = data
        while len(self._cache) > CACHE_CHUNKS:
            self._cache.popitem(last=False)
        return data

    def _learn_size(self, response: httpx.Response, start: int | None) -> None:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match is None or (match.group(1) or None) != (None if start is None else str(start)):
            raise MediaError("download_failed", "The video server sent an unexpected answer.")
        if match.group(2) != "*":
            self._set_size(_parse_size(match.group(2)))

    def _set_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise MediaError(
                "too_big", f"That video is {_mb(size)}; the limit is {_mb(self.max_bytes)}."
            )
        self.size = size

    def _read_body(self, response: httpx.Response, limit: int) -> bytes:
        data = bytearray()
        try:
            for piece in response.iter_bytes():
                self._check_deadline()
                data += piece[: limit - len(data)]
                if len(data) >= limit:
                    break
        except httpx.HTTPError as exc:
            raise self._http_failure(exc) from None
        finally:
            self.bytes_read += len(data)
        return bytes(data)

    def _start_sequential(self, response: httpx.Response) -> None:
        length = response.headers.get("Content-Length", "")
        try:
            if length.isascii() and length.isdigit():
                self._set_size(_parse_size(length))
                if self.size is not None and self.size > self.max_download_bytes:
                    raise self._too_big_sequential()
        except MediaError:
            response.close()
            raise
        self._cache.clear()
        self._sequential = bytearray()
        self._stream = response
        self._chunks = response.iter_bytes(self.chunk_size)

    def _too_big_sequential(self) -> MediaError:
        return MediaError(
            "too_big",
            "That video server does not allow partial downloads and the file is over "
            f"{_mb(self.max_download_bytes)}.",
        )

    def _read_sequential(self, size: int) -> bytes:
        assert self._sequential is not None
        want = self._pos + size
        while len(self._sequential) < want and not self._eof:
            self._check_deadline()
            try:
                piece = next(self._chunks)
            except StopIteration:
                self._eof = True
                if self.size is None:
                    self.size = len(self._sequential)
                break
            except httpx.HTTPError as exc:
                raise self._http_failure(exc) from None
            self._sequential += piece
            self.bytes_read += len(piece)
            if len(self._sequential) > self.max_download_bytes:
                raise self._too_big_sequential()
        data = bytes(self._sequential[self._pos : want])
        self._pos += len(data)
        return data

    def _get(self, headers: dict[str, str]) -> httpx.Response:
        url = self.url
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_target(url)
            remaining = self._check_deadline()
            request = self._client.build_request(
                "GET", url, headers=headers, timeout=httpx.Timeout(remaining)
            )
            try:
                response = self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise self._http_failure(exc) from None
            if response.status_code not in (301, 302, 303, 307, 308):
                self.url = url  # later ranges go straight to the final location
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise MediaError("download_failed", "The video link redirects nowhere.")
            url = urljoin(url, location)
        raise MediaError("download_failed", "The video link redirects too many times.")

    def _check_target(self, url: str) -> None:
        try:
            host = check_url_shape(url, allow_private=self.allow_private)
        except UnsafeURLError as exc:
            kind = "private_address" if "private" in str(exc) else "download_failed"
            raise MediaError(kind, str(exc)) from None
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        if self.allow_private or (host, port) in self._checked_hosts:
            return
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError, ValueError):
            raise MediaError(
                "download_failed", f"The host `{host[:80]}` could not be found."
            ) from None
        if not addresses or not all(is_public_address(a) for a in addresses):
            raise MediaError("private_address", "That link points to a private network address.")
        self._checked_hosts.add((host, port))

    def _check_deadline(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise MediaError("download_failed", "Downloading the video took too long.")
        return remaining

    def _http_failure(self, exc: httpx.HTTPError) -> MediaError:
        if isinstance(exc, httpx.TimeoutException):
            return MediaError("download_failed", "Downloading the video took too long.")
        if isinstance(exc, httpx.ConnectError):  # no connection at all (e.g. DNS failure)
            return MediaError("unreachable", "Could not connect to the video server.")
        return MediaError("download_failed", "Could not download the video.")


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What probing learnt about a video."""

    duration: float | None
    has_video: bool
    has_audio: bool
    size: int | None
    container: str
    width: int | None
    height: int | None
    bytes_read: int


def _refuse_nested_open(url: str, flags: int, options: dict[str, Any]) -> Any:
    """Demuxers must not open further resources (playlists, references) on their own."""
    raise MediaError("not_a_video", "That file is not a video.")


def probe_url(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> MediaInfo:
    """Read the streams and duration of the video at `url` (blocking)."""
    reader = CheckedReader(
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_download_bytes,
        timeout=timeout,
        transport=transport,
    )
    try:
        try:
            container = av.open(reader, mode="r", io_open=_refuse_nested_open)
        except Exception as exc:
            if reader.error is not None:
                raise reader.error from None
            if isinstance(exc, MediaError):
                raise
            raise MediaError("not_a_video", "That file is not a video.") from None
        try:
            return _describe(container, reader)
        finally:
            container.close()
    finally:
        reader.close()


def _describe(container: Any, reader: CheckedReader) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    duration: float | None = None
    if container.duration is not None:
        duration = container.duration / av.time_base
    elif video is not None and video.duration is not None and video.time_base is not None:
        duration = float(video.duration * video.time_base)
    return MediaInfo(
        duration=duration,
        has_video=video is not None,
        has_audio=bool(container.streams.audio),
        size=reader.size,
        container=str(container.format.name),
        width=int(video.codec_context.width) if video is not None else None,
        height=int(video.codec_context.height) if video is not None else None,
        bytes_read=reader.bytes_read,
    )


async def probe(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    time_limit: float = DEFAULT_TIMEOUT,
) -> MediaInfo:
    """`probe_url` in a worker thread (`time_limit` is its overall deadline)."""
    return await asyncio.to_thread(
        probe_url,
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_download_bytes,
        timeout=time_limit,
    )


def check_clip(
    info: MediaInfo, start: float, end: float, *, max_duration: float = DEFAULT_MAX_DURATION
) -> None:
    """Refuse videos without picture or sound, too long, or shorter than the range."""
    if not info.has_video:
        raise MediaError("not_a_video", "That file is not a video.")
    if not info.has_audio:
        raise MediaError(
            "no_audio",
            "That video has no sound; toapis needs an audio track to create a character.",
        )
    if info.duration is None:
        return
    if info.duration > max_duration:
        raise MediaError(
            "too_long",
            f"That video is {format_clock(round(info.duration))} long; the limit is "
            f"{format_clock(max_duration)}.",
        )
    if end > info.duration + 0.05:
        raise MediaError(
            "range_outside",
            f"The video is only {format_clock(round(info.duration, 1))} long; "
            "pick a range inside it.",
        )
