"""The egress proxy against raw loopback servers; 127.0.0.2 plays a public address."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.net import dns as dns_module
from bot.net import egress_proxy
from bot.net.address_guard import is_public_address
from bot.net.egress_proxy import EgressProxy

PUBLIC = "127.0.0.2"  # treated as public by the `dns` fixture
PRIVATE = "127.0.0.1"


class Upstream:
    """A one-request-per-connection HTTP server recording every request head it got."""

    def __init__(self, server: asyncio.Server, host: str) -> None:
        self.server = server
        self.host = host
        self.port = int(server.sockets[0].getsockname()[1])
        self.requests: list[str] = []
        self.bodies: list[bytes] = []

    @classmethod
    async def start(cls, host: str, port: int = 0) -> Upstream:
        holder: list[Upstream] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                holder[0].requests.append(head)
                holder[0].bodies.append(await reader.readexactly(length))
                body = f"hello from {host}".encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        upstream = cls(await asyncio.start_server(serve, host, port), host)
        holder.append(upstream)
        return upstream

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], list[str]]]:
    """Fake resolution (name -> answer) and 127.0.0.2 counted as public in the proxy."""
    answers: dict[str, Callable[[], list[str]]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]()
        if host in (PUBLIC, PRIVATE, "10.0.0.1"):
            return [host]
        raise OSError("unknown host")

    monkeypatch.setattr(dns_module, "resolve_host", resolve)
    monkeypatch.setattr(
        egress_proxy, "is_public_address", lambda a: a == PUBLIC or is_public_address(a)
    )
    return answers


@pytest_asyncio.fixture
async def servers() -> AsyncIterator[tuple[Upstream, Upstream]]:
    """A "public" and a private server listening on the same port number."""
    for _ in range(20):
        public = await Upstream.start(PUBLIC)
        try:
            private = await Upstream.start(PRIVATE, public.port)
        except OSError:
            await public.close()
            continue
        try:
            yield public, private
        finally:
            await public.close()
            await private.close()
        return
    pytest.skip("no port free on both loopback addresses")


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[EgressProxy]:
    async with EgressProxy(allow_private=False, idle_timeout=2.0) as running:
        yield running


async def _exchange(proxy: EgressProxy, request: bytes) -> bytes:
    """Send `request` to the proxy and read until it closes the connection."""
    port = int(proxy.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


def _get(host: str, port: int, path: str = "/clip?x=1") -> bytes:
    return (
        f"GET http://{host}:{port}{path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Proxy-Connection: keep-alive\r\nUser-Agent: test\r\n\r\n"
    ).encode()


async def test_plain_http_to_a_public_address_is_forwarded(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
) -> None:
    public, private = servers
    dns["cdn.test"] = lambda: [PUBLIC]
    answer = await _exchange(proxy, _get("cdn.test", public.port))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"hello from 127.0.0.2"
    assert b"Connection: close" in head and b"keep-alive" not in head.lower()
    [seen] = public.requests
    assert seen.startswith("GET /clip?x=1 HTTP/1.1\r\n")
    assert f"Host: cdn.test:{public.port}\r\n" in seen and "Connection: close\r\n" in seen
    assert "Proxy-Connection" not in seen and "User-Agent: test\r\n" in seen
    assert private.requests == [] and proxy.refused == []
    assert proxy.connected == [(f"cdn.test:{public.port}", PUBLIC)]


async def test_request_body_is_forwarded(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
) -> None:
    public, _ = servers
    request = f"POST http://{PUBLIC}:{public.port}/api HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    answer = await _exchange(proxy, request.encode())
    assert answer.startswith(b"HTTP/1.1 200")
    assert public.bodies == [b"hello"]
    assert f"Host: {PUBLIC}:{public.port}\r\n" in public.requests[0]


@pytest.mark.parametrize("addresses", [[PRIVATE], [PUBLIC, "10.0.0.1"], ["169.254.169.254"]])
async def test_a_host_resolving_to_any_private_address_is_refused(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
    addresses: list[str],
) -> None:
    public, private = servers
    dns["inside.test"] = lambda: addresses
    answer = await _exchange(proxy, _get("inside.test", public.port))
    assert answer.startswith(b"HTTP/1.1 403 Forbidden")
    assert public.requests == [] and private.requests == []
    assert proxy.refused == [f"inside.test:{public.port}"] and proxy.connected == []


async def test_connect_to_a_private_address_is_refused(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
) -> None:
    _, private = servers
    request = f"CONNECT {PRIVATE}:{private.port} HTTP/1.1\r\nHost: {PRIVATE}\r\n\r\n"
    answer = await _exchange(proxy, request.encode())
    assert answer.startswith(b"HTTP/1.1 403")
    assert private.requests == [] and proxy.refused == [f"{PRIVATE}:{private.port}"]


async def test_connect_tunnel_to_a_public_address(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
) -> None:
    public, private = servers
    dns["cdn.test"] = lambda: [PUBLIC]
    inner = "GET /inner HTTP/1.1\r\nHost: cdn.test\r\n\r\n"
    request = f"CONNECT cdn.test:{public.port} HTTP/1.1\r\n\r\n{inner}"
    answer = await _exchange(proxy, request.encode())
    assert answer.startswith(b"HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200 OK")
    assert answer.endswith(b"hello from 127.0.0.2")
    assert public.requests == [inner] and private.requests == []


async def test_dns_rebinding_cannot_switch_the_target(
    dns: dict[str, Callable[[], list[str]]],
    servers: tuple[Upstream, Upstream],
    proxy: EgressProxy,
) -> None:
    # Public on the first lookup, private on every later one (same port on both).
    public, private = servers
    lookups: list[str] = []

    def rebinding() -> list[str]:
        lookups.append("x")
        return [PUBLIC] if len(lookups) == 1 else [PRIVATE]

    dns["rebind.test"] = rebinding
    first = await _exchange(proxy, _get("rebind.test", public.port))
    assert first.endswith(b"hello from 127.0.0.2")
    assert len(lookups) == 1, "resolved once, connected to the checked address"
    assert proxy.connected == [(f"rebind.test:{public.port}", PUBLIC)]
    second = await _exchange(proxy, _get("rebind.test", public.port))
    assert second.startswith(b"HTTP/1.1 403")
    assert len(public.requests) == 1 and private.requests == []


async def test_allow_private_reaches_loopback(
    dns: dict[str, Callable[[], list[str]]], servers: tuple[Upstream, Upstream]
) -> None:
    _, private = servers
    async with EgressProxy(allow_private=True) as open_proxy:
        answer = await _exchange(open_proxy, _get(PRIVATE, private.port))
    assert answer.endswith(b"hello from 127.0.0.1") and len(private.requests) == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET https://cdn.test/ HTTP/1.1\r\n\r\n",  # https must use CONNECT
        b"GET /relative HTTP/1.1\r\nHost: cdn.test\r\n\r\n",
        b"nonsense\r\n\r\n",
        b"CONNECT cdn.test HTTP/1.1\r\n\r\n",  # no port
        b"POST http://cdn.test/ HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ],
)
async def test_malformed_requests_get_400(
    dns: dict[str, Callable[[], list[str]]], proxy: EgressProxy, request_bytes: bytes
) -> None:
    dns["cdn.test"] = lambda: [PUBLIC]
    answer = await _exchange(proxy, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400") and proxy.connected == []


async def test_unknown_host_gets_502(dns: dict[str, Callable[[], list[str]]]) -> None:
    async with EgressProxy(allow_private=False) as running:
        answer = await _exchange(running, b"GET http://nowhere.test/ HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 502") and running.refused == []


async def test_connection_count_is_bounded_and_idle_clients_are_dropped() -> None:
    async with EgressProxy(allow_private=False, max_connections=1, idle_timeout=0.3) as running:
        port = int(running.url.rsplit(":", 1)[1])
        _, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)
        answer = await _exchange(running, b"GET http://x.test/ HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503")
        await asyncio.sleep(0.5)  # the silent client was dropped; a new one is served
        answer = await _exchange(running, b"nonsense\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        idle_writer.close()


async def test_closing_drops_open_connections(caplog: pytest.LogCaptureFixture) -> None:
    running = EgressProxy(allow_private=False)
    await running.start()
    port = int(running.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(running.close(), 2)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        await asyncio.sleep(0.05)
    writer.close()
    # Dropping a connection is no error (the soak saw asyncio log one per dropped one).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    with pytest.raises(RuntimeError):
        _ = EgressProxy(allow_private=False).url
