"""Results fetched with the same checks as member links: avatars, and finished videos.

The service hands us a URL; it is read through `CheckedReader` (no private addresses, on
every redirect hop; bounded size and time) behind the egress proxy (which connects only to
the address it checked, so DNS rebinding gets nowhere), never with a plain client. Avatars
(small, in memory) have a small pool of their own so that cards never wait behind video
cuts; finished videos (up to hundreds of MB, minutes) have another, so cards never wait
behind them either, and are streamed to a temporary file, never held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache, partial
from pathlib import Path
from typing import BinaryIO

import httpx

from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.reader import CheckedReader, WholeFileReader
from bot.media.workers import WorkerPool
from bot.net.egress_proxy import EgressProxy

ASSET_TIMEOUT = 20.0
ASSET_WORKERS = 2
VIDEO_WORKERS = 2


@cache
def _pool() -> WorkerPool:
    return WorkerPool(ASSET_WORKERS, "asset-download")


@cache
def video_pool() -> WorkerPool:
    """The pool finished videos download on (never the avatars' pool)."""
    return WorkerPool(VIDEO_WORKERS, "video-download")


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
        raise MediaError("too_big", Text("That file is larger than allowed."))
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


def _stream_to_file(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int,
    timeout: float,
    proxy_url: str,
    out: BinaryIO,
    stop: threading.Event,
) -> None:
    with out:  # closed here whatever happens: the file is this worker's from now on
        reader = WholeFileReader(
            url,
            allow_private=allow_private,
            max_bytes=max_bytes,
            max_download_bytes=max_bytes,
            timeout=timeout,
            transport=httpx.HTTPTransport(proxy=proxy_url, verify=_tls()),
        )
        with reader:
            reader.download_to(out, stop)


async def fetch_to_file(
    url: str, *, allow_private: bool, max_bytes: int, time_limit: float, suffix: str = ""
) -> Path:
    """Stream `url` (at most `max_bytes`) into a new temporary file, on the video pool;
    the caller deletes it. `MediaError` when refused or failed (no file is left).

    A caller cancelled mid-download (a shutdown) does not wait for the worker: the file is
    deleted at once, and the worker, its proxy closed, stops at its next read.
    """
    handle, name = tempfile.mkstemp(prefix="sora-", suffix=suffix)
    path, stop = Path(name), threading.Event()
    out = os.fdopen(handle, "wb")
    future: asyncio.Future[None] | None = None
    try:
        async with EgressProxy(allow_private=allow_private) as proxy:
            work = partial(
                _stream_to_file,
                url,
                allow_private=allow_private,
                max_bytes=max_bytes,
                timeout=time_limit,
                proxy_url=proxy.url,
                out=out,
                stop=stop,
            )
            future = await video_pool().start(work)
            future.add_done_callback(_retrieved)
            await asyncio.shield(future)
    except BaseException:
        stop.set()
        if future is None:  # never started: the file is still ours to close
            out.close()
        discard(path)
        raise
    return path


def _retrieved(future: asyncio.Future[None]) -> None:
    """A download nobody waits for any more ends quietly (its failure is expected)."""
    if not future.cancelled():
        future.exception()


@contextlib.asynccontextmanager
async def downloaded(
    url: str, *, allow_private: bool, max_bytes: int, time_limit: float, suffix: str = ""
) -> AsyncIterator[Path]:
    """`fetch_to_file` for the length of a `with` block; the file is deleted after it."""
    path = await fetch_to_file(
        url, allow_private=allow_private, max_bytes=max_bytes, time_limit=time_limit, suffix=suffix
    )
    try:
        yield path
    finally:
        discard(path)


def discard(path: Path) -> None:
    """Delete a downloaded file (an unlink: quick enough for the event loop)."""
    path.unlink(missing_ok=True)


AssetDownload = Callable[[str, int], Awaitable[bytes]]
"""Fetch `url` (at most the given number of bytes); raises `MediaError`."""


def checked_download(*, allow_private: bool) -> AssetDownload:
    """`fetch_asset` with the deployment's `allow_private_urls` bound in."""

    async def download(url: str, max_bytes: int) -> bytes:
        return await fetch_asset(url, allow_private=allow_private, max_bytes=max_bytes)

    return download
