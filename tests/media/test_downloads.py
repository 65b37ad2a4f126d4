"""Streaming a result file to disk: whole when it fits, refused as soon as it passes the
limit when the server does not say its size, and no file left behind either way."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.media.assets import fetch_to_file
from bot.media.errors import MediaError

MB = 1024 * 1024
PIECE = bytes(range(256)) * 256  # 64 KiB, not all zeros


@pytest.fixture
def own_tempdir(tmp_path: Path) -> Iterator[Path]:
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        yield tmp_path
    finally:
        tempfile.tempdir = saved


@pytest.fixture
async def chunked_server() -> AsyncIterator[str]:
    """Serves `/{n}.bin`: n pieces, chunked (no Content-Length)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        count = int(request.match_info["count"])
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(count):
            await response.write(PIECE)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{count}.bin", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def leftovers(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


async def test_a_file_within_the_limit_arrives_whole(chunked_server: str, own_tempdir: Path):
    path = await fetch_to_file(
        f"{chunked_server}/48.bin", allow_private=True, max_bytes=4 * MB, time_limit=30
    )
    try:
        assert path.read_bytes() == PIECE * 48
    finally:
        path.unlink()
    assert leftovers(own_tempdir) == []


async def test_a_file_without_a_size_is_refused_once_it_passes_the_limit(
    chunked_server: str, own_tempdir: Path
):
    with pytest.raises(MediaError) as refused:
        await fetch_to_file(
            f"{chunked_server}/64.bin", allow_private=True, max_bytes=2 * MB, time_limit=30
        )
    assert refused.value.kind == "too_big"
    assert leftovers(own_tempdir) == []
