"""A seekable file-like view of an HTTP(S) video, fetched by checked byte ranges.

`CheckedReader` issues `Range` requests, follows redirects itself and refuses private
addresses on every hop. PyAV reads through it; the URL itself is never handed to ffmpeg.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx

from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.net import dns
from bot.net.address_guard import UnsafeURLError, check_url_shape, is_public_address
from bot.net.egress_proxy import FAILURE_HEADER

CHUNK_SIZE = 256 * 1024
CACHE_CHUNKS = 8
MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_DOWNLOAD_BYTES = 50 * 1024**2
DEFAULT_TIMEOUT = 30.0
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*$", re.IGNORECASE)


def _mb(size: int) -> int:
    return round(size / 1048576)


def _parse_size(text: str) -> int:
    """A byte count from a header; absurd values are refused, never a crash."""
    if len(text) > 18:  # over an exabyte: not a video anyone can send us
        raise MediaError("too_big", Text("That video is far too large."))
    return int(text)


class CheckedReader(io.RawIOBase):
    """A read-only, seekable view of an HTTP(S) resource fetched by byte ranges."""

    probe_first = True  # the first range is read at once (size, and whether Range works)

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
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.url = url
        self.headers = dict(headers or {})  # sent with every request (e.g. User-Agent)
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
        if not self.probe_first:
            return
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

    def download_to(self, out: IO[bytes], stop: threading.Event | None = None) -> int:
        """Stream the whole file into `out` with one request; returns its size.

        Nothing is held in memory but the piece being written. More than `max_download_bytes` is
        refused: a larger Content-Length before reading, a longer body as soon as it
        passes the limit. `stop` set (the caller gave up) ends it at the next chunk.
        """
        response = self._get(headers={})
        try:
            if response.status_code != 200:
                failure = response.headers.get(FAILURE_HEADER)
                if response.status_code == 502 and failure:
                    raise unreachable(urlsplit(self.url).hostname, failure)
                raise MediaError(
                    "download_failed",
                    Text("Could not download it (HTTP {status}).", status=response.status_code),
                )
            length = response.headers.get("Content-Length", "")
            if length.isascii() and length.isdigit():
                self._check_download_size(_parse_size(length))
            written = 0
            try:
                for piece in response.iter_bytes():  # as it arrives: `stop` is seen soon
                    self._check_deadline()
                    if stop is not None and stop.is_set():
                        raise MediaError("download_failed", Text("The download was stopped."))
                    written += len(piece)
                    self.bytes_read += len(piece)
                    self._check_download_size(written)
                    out.write(piece)
            except httpx.HTTPError as exc:
                raise self._http_failure(exc) from None
        finally:
            response.close()
        self.size = written
        return written

    def _check_download_size(self, size: int) -> None:
        if size > self.max_download_bytes:
            raise MediaError(
                "too_big",
                Text(
                    "That file is over the limit of {limit} MB.",
                    limit=_mb(self.max_download_bytes),
                ),
            )

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
                failure = response.headers.get(FAILURE_HEADER)
                if response.status_code == 502 and failure:
                    raise unreachable(urlsplit(self.url).hostname, failure)
                raise MediaError(
                    "download_failed",
                    Text(
                        "Could not download the video (HTTP {status}).",
                        status=response.status_code,
                    ),
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
            raise MediaError("download_failed", Text("The video server sent an unexpected answer."))
        if match.group(2) != "*":
            self._set_size(_parse_size(match.group(2)))

    def _set_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise MediaError(
                "too_big",
                Text(
                    "That video is {size} MB; the limit is {limit} MB.",
                    size=_mb(size),
                    limit=_mb(self.max_bytes),
                ),
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
            Text(
                "That video server does not allow partial downloads and the file is over "
                "{limit} MB.",
                limit=_mb(self.max_download_bytes),
            ),
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
                "GET", url, headers={**self.headers, **headers}, timeout=httpx.Timeout(remaining)
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
                raise MediaError("download_failed", Text("The video link redirects nowhere."))
            url = urljoin(url, location)
        raise MediaError("download_failed", Text("The video link redirects too many times."))

    def _check_target(self, url: str) -> None:
        try:
            host = check_url_shape(url, allow_private=self.allow_private)
        except UnsafeURLError as exc:
            kind = "private_address" if "private" in str(exc) else "download_failed"
            raise MediaError(kind, exc.text) from None
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        if self.allow_private or (host, port) in self._checked_hosts:
            return
        try:
            addresses = dns.resolve_host(host, port)
        except (OSError, UnicodeError, ValueError):
            raise MediaError(
                "download_failed", Text("The host `{host}` could not be found.", host=host[:80])
            ) from None
        if not addresses or not all(is_public_address(a) for a in addresses):
            raise MediaError(
                "private_address", Text("That link points to a private network address.")
            )
        self._checked_hosts.add((host, port))

    def _check_deadline(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise MediaError("download_failed", Text("Downloading the video took too long."))
        return remaining

    def _http_failure(self, exc: httpx.HTTPError) -> MediaError:
        if isinstance(exc, httpx.TimeoutException):
            return MediaError("download_failed", Text("Downloading the video took too long."))
        if isinstance(exc, httpx.ConnectError | httpx.ProxyError):  # no connection at all
            return unreachable(urlsplit(self.url).hostname, "unreachable")
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return unreachable(urlsplit(self.url).hostname, "reset")
        return MediaError("download_failed", Text("Could not download the video."))


def unreachable(host: str | None, why: str) -> MediaError:
    """The member's words for a host we could not reach (`why` as the egress proxy says)."""
    host = (host or "the host")[:80]
    if why == "not-found":
        return MediaError("unreachable", f"The host `{host}` could not be found.")
    if why == "reset":
        return MediaError("unreachable", f"The connection to `{host}` was reset; try again.")
    detail = " (connection refused)" if why == "refused" else ""
    return MediaError("unreachable", f"Could not connect to the host `{host}`{detail}.")


class WholeFileReader(CheckedReader):
    """A `CheckedReader` used only for `download_to`: it asks for nothing before that."""

    probe_first = False
