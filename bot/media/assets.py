"""Small result assets (a character's avatar) fetched with the same checks as member links.

The service hands us a URL; it is read through `CheckedReader` (no private addresses, on
every redirect hop; bounded size and time) in a worker thread, never with a plain client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.media.errors import MediaError
from bot.media.reader import CheckedReader

ASSET_TIMEOUT = 20.0


def _read_capped(url: str, *, allow_private: bool, max_bytes: int, timeout: float) -> bytes:
    reader = CheckedReader(
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_bytes,
        timeout=timeout,
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
    return await asyncio.to_thread(
        _read_capped, url, allow_private=allow_private, max_bytes=max_bytes, timeout=time_limit
    )


AssetDownload = Callable[[str, int], Awaitable[bytes]]
"""Fetch `url` (at most the given number of bytes); raises `MediaError`."""


def checked_download(*, allow_private: bool) -> AssetDownload:
    """`fetch_asset` with the deployment's `allow_private_urls` bound in."""

    async def download(url: str, max_bytes: int) -> bytes:
        return await fetch_asset(url, allow_private=allow_private, max_bytes=max_bytes)

    return download
