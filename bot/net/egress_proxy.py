"""A loopback HTTP forward proxy that refuses private addresses (SSRF guard for yt-dlp/ffmpeg).

Libraries that fetch on their own (yt-dlp following redirects, ffmpeg reading HLS segments
and keys) are pointed at this proxy. For every request or `CONNECT` tunnel it resolves the
target host itself, refuses it (403) when any address is not public, and connects to the
address it checked, never to the name, so DNS rebinding cannot switch the target afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from urllib.parse import urlsplit

from bot.net import dns
from bot.net.address_guard import is_public_address

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 8 * 1024 * 1024
CHUNK = 64 * 1024
# Hop-by-hop headers (and ones we decide ourselves) are not forwarded.
_DROP_REQUEST = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "host",
}
_DROP_RESPONSE = {"connection", "keep-alive", "proxy-connection", "x-egress-error"}
# On a 502 of its own the proxy says why in this header, so readers can tell the member
# "could not connect" instead of "HTTP 502" (upstream copies of it are dropped).
FAILURE_HEADER = "X-Egress-Error"
_REASONS = {400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large"}
_REASONS |= {501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable"}


class _Refused(Exception):
    """Answer the client with `status` and stop (`failure`: why we could not connect)."""

    def __init__(self, status: int, message: str, failure: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.failure = failure


class _Activity:
    """The last time bytes moved on a connection, shared by both directions."""

    def __init__(self) -> None:
        self.at = time.monotonic()


class EgressProxy:
    """HTTP forward proxy on 127.0.0.1 (random port); use as an async context manager.

    `refused` lists every `host:port` refused for resolving to a private address;
    `connected` lists `(host:port, address)` for every upstream connection made;
    `unreachable` lists `(host:port, why)` for every host it could not reach, `why` being
    "not-found", "refused", "unreachable" or "reset".
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        max_connections: int = 32,
        idle_timeout: float = 30.0,
    ) -> None:
        self.allow_private = allow_private
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.refused: list[str] = []
        self.connected: list[tuple[str, str]] = []
        self.unreachable: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._port = 0

    @property
    def url(self) -> str:
        """The proxy URL to hand to clients, e.g. `http://127.0.0.1:PORT`."""
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Listen on a random loopback port."""
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", 0, limit=MAX_HEAD_BYTES
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> EgressProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve a connection in a task of our own: handed a coroutine, asyncio.streams
        (Python 3.11.7) logs an error for each one `close` cancels."""
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._served)

    def _served(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("egress proxy connection failed", exc_info=task.exception())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened: list[asyncio.StreamWriter] = []
        try:
            if len(self._tasks) > self.max_connections:
                raise _Refused(503, "too many connections")
            await self._handle(reader, writer, opened)
        except _Refused as refusal:
            await self._answer(writer, refusal.status, str(refusal), refusal.failure)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for stream in (*opened, writer):
                stream.close()

    async def _handle(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        opened: list[asyncio.StreamWriter],
    ) -> None:
        """Serve one request or tunnel; upstream writers go to `opened` (the caller closes)."""
        head = await self._read_head(reader)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
            raise _Refused(400, "malformed request")
        method, target, _version = parts
        if method.upper() == "CONNECT":
            host, port = _authority(target)
            up_reader, up_writer = await self._open(host, port)
            opened.append(up_writer)
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            activity = _Activity()
            pipes = [
                asyncio.ensure_future(self._pipe(reader, up_writer, activity)),
                asyncio.ensure_future(self._pipe(up_reader, writer, activity)),
            ]
            try:
                await asyncio.gather(*pipes)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
            return
        split = urlsplit(target)
        if split.scheme.lower() != "http" or not split.hostname:
            raise _Refused(400, "only absolute http:// requests and CONNECT are served")
        try:
            port = split.port or 80
        except ValueError:
            raise _Refused(400, "malformed port") from None
        headers = [_header(line) for line in lines[1:] if line]
        names = {name.lower() for name, _ in headers}
        if "transfer-encoding" in names:
            raise _Refused(501, "chunked request bodies are not supported")
        length = _content_length(headers)
        up_reader, up_writer = await self._open(split.hostname, port)
        opened.append(up_writer)
        path = split.path or "/"
        if split.query:
            path += f"?{split.query}"
        netloc = split.netloc.rpartition("@")[2]
        out = [f"{method} {path} HTTP/1.1", f"Host: {netloc}"]
        out += [f"{n}: {v}" for n, v in headers if n.lower() not in _DROP_REQUEST]
        out += ["Connection: close", "", ""]
        up_writer.write("\r\n".join(out).encode("latin-1"))
        if length:
            body = await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
            up_writer.write(body)
        await asyncio.wait_for(up_writer.drain(), self.idle_timeout)
        try:
            response = await self._read_head(up_reader)
        except (ConnectionResetError, asyncio.IncompleteReadError):
            raise self._unreachable(f"{split.hostname}:{port}", "reset") from None
        writer.write(_rewrite_response(response))
        await self._pipe(up_reader, writer, _Activity())

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes:
        try:
            data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
        except asyncio.LimitOverrunError:
            raise _Refused(400, "header too large") from None
        return data[:-4]

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Resolve `host` once, check every address, connect to a checked one."""
        label = f"{host}:{port}"
        try:
            addresses = await asyncio.wait_for(dns.resolve(host, port), self.idle_timeout)
        except (OSError, UnicodeError, ValueError, TimeoutError):
            raise self._unreachable(label, "not-found") from None
        if not addresses:
            raise self._unreachable(label, "not-found")
        if not self.allow_private and not all(is_public_address(a) for a in addresses):
            self.refused.append(label)
            logger.info("egress proxy refused %s (private address)", label)
            raise _Refused(403, "private network address")
        why = "unreachable"
        for address in addresses:
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection(address, port, limit=MAX_HEAD_BYTES),
                    self.idle_timeout,
                )
            except ConnectionRefusedError:
                why = "refused"
                continue
            except (OSError, TimeoutError):
                continue
            self.connected.append((label, address))
            return streams
        raise self._unreachable(label, why)

    def _unreachable(self, label: str, why: str) -> _Refused:
        self.unreachable.append((label, why))
        return _Refused(502, f"cannot reach {label}: {why}", why)

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, activity: _Activity
    ) -> None:
        """Copy until end of stream; fails once neither direction moved for `idle_timeout`."""
        while True:
            try:
                data = await asyncio.wait_for(src.read(CHUNK), self.idle_timeout)
            except TimeoutError:
                if time.monotonic() - activity.at >= self.idle_timeout:
                    raise
                continue
            if not data:
                if dst.can_write_eof() and not dst.is_closing():
                    dst.write_eof()
                return
            activity.at = time.monotonic()
            dst.write(data)
            await asyncio.wait_for(dst.drain(), self.idle_timeout)

    @staticmethod
    async def _answer(
        writer: asyncio.StreamWriter, status: int, message: str, failure: str | None = None
    ) -> None:
        body = f"{message}\n".encode()
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        if failure:
            head += f"{FAILURE_HEADER}: {failure}\r\n"
        head += f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        head += "Connection: close\r\n\r\n"
        try:
            writer.write(head.encode("latin-1") + body)
            await asyncio.wait_for(writer.drain(), 5)
        except (OSError, TimeoutError):
            pass


def _authority(target: str) -> tuple[str, int]:
    """`host` and `port` of a CONNECT target (`host:port`, `[v6]:port`)."""
    split = urlsplit(f"//{target}")
    try:
        port = split.port
    except ValueError:
        port = None
    if not split.hostname or port is None or split.username is not None:
        raise _Refused(400, "CONNECT needs host:port")
    return split.hostname, port


def _header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name or name != name.strip():
        raise _Refused(400, "malformed header")
    return name, value.strip()


def _content_length(headers: list[tuple[str, str]]) -> int:
    values = {v for n, v in headers if n.lower() == "content-length"}
    if not values:
        return 0
    if len(values) > 1 or not next(iter(values)).isdigit():
        raise _Refused(400, "malformed Content-Length")
    length = int(next(iter(values)))
    if length > MAX_BODY_BYTES:
        raise _Refused(413, "request body too large")
    return length


def _rewrite_response(head: bytes) -> bytes:
    """The upstream's response head with `Connection: close` (one request per connection)."""
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.partition(b":")[0].strip().lower().decode("latin-1")
        if name not in _DROP_RESPONSE:
            kept.append(line)
    kept += [b"Connection: close", b"", b""]
    return b"\r\n".join(kept)
