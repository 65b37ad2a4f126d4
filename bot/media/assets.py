"""Small result assets (a character's avatar) fetched with the same checks as member links.

The service hands us a URL; it is read through `CheckedReader` (no private addresses, on
every redirect hop; bounded size and time) behind the egress proxy (which connects only to
the address it checked, so DNS rebinding gets nowhere), on a small pool of its own so that
cards never wait behind video cuts, never with a plain client.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from functools import cache, partial

import httpx

from bot.media.egress_proxy import EgressProxy
from bot.media.errors import MediaError
from bot.media.reader import CheckedReader
from bot.media.workers import WorkerPool

ASSET_TIMEOUT = 20.0
ASSET_WORKERS = 2


@cache
def _pool() -> WorkerPool:
    return WorkerPool(ASSET_WORKERS, "asset-download")


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every download (building one loads every CA: slow and big)."""
    return httpx.create_ssl_context()


def _read_capped(
    url: str, *, allow_private: bool, max_bytes: int, timeout: float, proxy_url: str
) -> bytes:
    reader = CheckedReader(
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_bytes,
        timeout=timeout,
        transport=httpx.HTTPTransport(proxy=proxy_url, verify=_tls()),
    )
    try:
        data = reader.read(max_bytes + 1)
    finally:
        reader.close()
    if len(data) > max_bytes:
        raise MediaError("too_big", "That file is larger than allowed.")
    return data


async def fetch_asset(
    url: str, *, allow_private: bool, max_bytes: int, time_limit: float = ASSET_TIMEOUT
) -> bytes:
    """The bytes at `url` (at most `max_bytes`); `MediaError` when refused or failed."""
    async with EgressProxy(allow_private=allow_private) as proxy:
        work = partial(
            _read_capped,
            url,
            allow_private=allow_private,
            max_bytes=max_bytes,
            timeout=time_limit,
            proxy_url=proxy.url,
        )
        return await _pool().run(work)


AssetDownload = Callable[[str, int], Awaitable[bytes]]
"""Fetch `url` (at most the given number of bytes); raises `MediaError`."""


def checked_download(*, allow_private: bool) -> AssetDownload:
    """`fetch_asset` with the deployment's `allow_private_urls` bound in."""

    async def download(url: str, max_bytes: int) -> bytes:
        return await fetch_asset(url, allow_private=allow_private, max_bytes=max_bytes)

    return download
