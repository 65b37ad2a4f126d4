"""Probing real media files over a loopback HTTP server, reading only what is needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiohttp import web

from bot.media.errors import MediaError
from bot.media.probe import MediaInfo, check_clip, probe, probe_url
from bot.net import dns
from tests.sample_media import make_video
from tests.shared_media import made_once


@pytest.fixture(scope="module")
def long_video(media_dir: Path) -> Path:
    """A 120 s low-bitrate video (about 4 MB)."""
    return made_once(
        media_dir / "long.mp4",
        lambda path: make_video(path, seconds=120, bitrate="200k", size="160x120"),
    )


@pytest_asyncio.fixture
async def odd_server(media_dir: Path) -> AsyncIterator[str]:
    """Redirects to a private address, and serves files while ignoring `Range`."""

    async def to_private(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://10.0.0.1/x.mp4")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"/whole/{request.match_info['name']}")

    async def whole(request: web.Request) -> web.Response:
        body = (media_dir / request.match_info["name"]).read_bytes()
        return web.Response(body=body, content_type="video/mp4")  # 200, never 206

    app = web.Application()
    app.router.add_get("/private.mp4", to_private)
    app.router.add_get("/hop/{name}", hop)
    app.router.add_get("/whole/{name}", whole)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_short_video_has_video_audio_and_duration(media_server, short_video):
    info = await probe(f"{media_server}/{short_video.name}", allow_private=True)
    assert info.has_video and info.has_audio
    assert info.duration == pytest.approx(5, abs=0.1)
    assert info.size == short_video.stat().st_size
    assert (info.width, info.height) == (320, 240)
    assert "mp4" in info.container
    check_clip(info, 1, 3)


async def test_silent_video_is_refused_for_lack_of_sound(media_server, silent_video):
    info = await probe(f"{media_server}/{silent_video.name}", allow_private=True)
    with pytest.raises(MediaError, match="no sound") as caught:
        check_clip(info, 1, 3)
    assert caught.value.kind == "no_audio"


async def test_non_video_is_refused(media_server, non_video):
    with pytest.raises(MediaError, match="not a video") as caught:
        await probe(f"{media_server}/{non_video.name}", allow_private=True)
    assert caught.value.kind == "not_a_video"


async def test_audio_only_is_not_a_video(media_server, audio_only):
    info = await probe(f"{media_server}/{audio_only.name}", allow_private=True)
    with pytest.raises(MediaError, match="not a video"):
        check_clip(info, 1, 2)


async def test_range_past_the_end_is_refused(media_server, short_video):
    info = await probe(f"{media_server}/{short_video.name}", allow_private=True)
    with pytest.raises(MediaError, match=r"only 0:05 long") as caught:
        check_clip(info, 4, 7)
    assert caught.value.kind == "range_outside"


def test_too_long_video_is_refused():
    info = MediaInfo(7 * 3600, True, True, 10, "mp4", 1, 1, 10)
    with pytest.raises(MediaError, match="limit") as caught:
        check_clip(info, 1, 3)
    assert caught.value.kind == "too_long"


async def test_long_video_is_probed_from_a_small_part(media_server, long_video):
    size = long_video.stat().st_size
    info = await probe(f"{media_server}/{long_video.name}", allow_private=True)
    assert info.duration == pytest.approx(120, abs=0.5)
    assert info.bytes_read < 0.1 * size, (info.bytes_read, size)


async def test_loopback_and_redirects_to_private_addresses_are_refused(odd_server):
    with pytest.raises(MediaError, match="private") as caught:
        await probe(f"{odd_server}/private.mp4", allow_private=False)
    assert caught.value.kind == "private_address"


def test_every_redirect_hop_is_checked(monkeypatch):
    """A public first hop that redirects into a private network is refused."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://10.0.0.1/x.mp4"})

    monkeypatch.setattr(dns, "resolve_host", lambda host, port: ["93.184.216.34"])
    with pytest.raises(MediaError, match="private") as caught:
        probe_url(
            "https://videos.example.com/a.mp4",
            allow_private=False,
            transport=httpx.MockTransport(handler),
        )
    assert caught.value.kind == "private_address"
    assert seen == ["https://videos.example.com/a.mp4"]


def test_names_resolving_to_private_addresses_are_refused(monkeypatch):
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent")

    monkeypatch.setattr(dns, "resolve_host", lambda host, port: ["192.168.1.4"])
    with pytest.raises(MediaError, match="private"):
        probe_url(
            "https://videos.example.com/a.mp4",
            allow_private=False,
            transport=httpx.MockTransport(handler),
        )


async def test_server_ignoring_range_is_read_sequentially(odd_server, short_video):
    info = await probe(f"{odd_server}/hop/{short_video.name}", allow_private=True)
    assert info.has_video and info.has_audio
    assert info.duration == pytest.approx(5, abs=0.1)


async def test_server_ignoring_range_is_capped(odd_server, short_video):
    url = f"{odd_server}/whole/{short_video.name}"
    with pytest.raises(MediaError, match="partial downloads") as caught:
        await probe(url, allow_private=True, max_download_bytes=10_000)
    assert caught.value.kind == "too_big"


async def test_too_big_by_max_bytes(media_server, short_video):
    with pytest.raises(MediaError, match="limit") as caught:
        await probe(f"{media_server}/{short_video.name}", allow_private=True, max_bytes=1000)
    assert caught.value.kind == "too_big"


async def test_missing_file_is_a_download_failure(media_server):
    with pytest.raises(MediaError, match="HTTP 404") as caught:
        await probe(f"{media_server}/nothing.mp4", allow_private=True)
    assert caught.value.kind == "download_failed"


async def test_unreachable_server_is_refused_before_any_api_call(unused_tcp_port):
    url = f"http://127.0.0.1:{unused_tcp_port}/a.mp4"
    with pytest.raises(MediaError) as caught:
        await probe(url, allow_private=True)
    assert caught.value.kind == "unreachable"
    assert "Could not connect" in str(caught.value)


async def test_overall_deadline(media_server, short_video):
    with pytest.raises(MediaError, match="too long") as caught:
        await probe(f"{media_server}/{short_video.name}", allow_private=True, time_limit=0)
    assert caught.value.kind == "download_failed"


async def test_absurd_sizes_are_refused_not_crashed(unused_tcp_port):
    from aiohttp import web

    async def huge(request: web.Request) -> web.Response:
        return web.Response(
            status=206, body=b"x" * 10, headers={"Content-Range": "bytes 0-9/" + "9" * 5000}
        )

    app = web.Application()
    app.router.add_get("/v.mp4", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        with pytest.raises(MediaError) as caught:
            await probe(f"http://127.0.0.1:{unused_tcp_port}/v.mp4", allow_private=True)
        assert caught.value.kind == "too_big"
    finally:
        await runner.cleanup()
