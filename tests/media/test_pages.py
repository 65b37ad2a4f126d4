"""Page links through yt-dlp's generic extractor, against a loopback web server."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import av
import pytest
import pytest_asyncio
from aiohttp import web

import bot.media.pages as media_pages
from bot.media import page_checks, reader
from bot.media.errors import MediaError
from bot.media.page_checks import ffmpeg_path
from bot.media.pages import download_page_section
from bot.net import address_guard as net_guard
from bot.net import dns, egress_proxy
from tests.sample_media import ffmpeg_exe, make_video


def _page(*sources: str, title: str = "Clip") -> str:
    videos = "".join(f'<video src="{src}"></video>' for src in sources)
    return f"<html><head><title>{title}</title></head><body>{videos}</body></html>"


PAGES = {
    "/page.html": _page("/clip.mp4"),
    "/two.html": _page("/clip.mp4", "/other.mp4", title="Two"),
    "/none.html": _page(title="Nothing here"),
    "/silent.html": _page("/silent.mp4"),
    "/elsewhere.html": _page("http://media.example/clip.mp4"),
    "/hls.html": _page("/hls/index.m3u8"),
}


@pytest.fixture(scope="module")
def page_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s videos (with and without audio) served next to the pages."""
    root = tmp_path_factory.mktemp("page-media")
    make_video(root / "clip.mp4", seconds=20)
    make_video(root / "other.mp4", seconds=2)
    make_video(root / "silent.mp4", seconds=20, audio=False)
    (root / "hls").mkdir()
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(root / "clip.mp4")]
    command += ["-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"]
    command += ["-hls_segment_filename", str(root / "hls" / "seg%02d.ts")]
    subprocess.run([*command, str(root / "hls" / "index.m3u8")], check=True, timeout=60)
    return root


@pytest_asyncio.fixture
async def site(page_media: Path) -> AsyncIterator[str]:
    """Base URL of a loopback site with the pages above and the media files."""
    app = web.Application()

    def handler(body: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(text=body, content_type="text/html")

        return handle

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(text=PAGES["/page.html"], content_type="text/html")

    for path, body in PAGES.items():
        app.router.add_get(path, handler(body))
    app.router.add_get("/slow.html", slow)
    app.router.add_static("/", page_media)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _streams(path: Path) -> tuple[float, bool, bool]:
    with av.open(str(path)) as container:
        duration = container.duration / av.time_base if container.duration else 0.0
        return duration, bool(container.streams.video), bool(container.streams.audio)


async def _refused(
    url: str, workdir: Path, start: float = 5, end: float = 7, **kwargs: object
) -> MediaError:
    options: dict[str, object] = {"allow_private": True, "timeout": 20.0, **kwargs}
    with pytest.raises(MediaError) as caught:
        await download_page_section(url, start, end, workdir=workdir, **options)  # type: ignore[arg-type]
    assert list(workdir.iterdir()) == [], "nothing is left behind"  # noqa: ASYNC240
    return caught.value


def test_ffmpeg_path_is_an_executable() -> None:
    assert Path(ffmpeg_path()).is_file()


async def test_page_with_video_downloads_only_the_section(
    site: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("test.media_pages")
    caplog.set_level(logging.DEBUG, logger="test.media_pages")
    section = await download_page_section(
        f"{site}/page.html", 5, 7, workdir=tmp_path, allow_private=True, logger=log
    )
    assert section.path.parent == tmp_path and section.path.is_file()
    assert section.offset == 4.0
    assert section.extractor == "html5"
    assert section.title is not None and section.title.startswith("Clip")
    assert section.duration == pytest.approx(20, abs=0.2)  # learnt by probing the file header
    duration, has_video, has_audio = _streams(section.path)
    assert has_video and has_audio
    assert 3.5 <= duration <= 4.6  # 2 s span + 1 s margin each side, not 20 s
    assert any(r.message.startswith("yt-dlp:") for r in caplog.records)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == log.name)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


@pytest.mark.parametrize(
    ("path", "extractor", "duration"),
    [("/hls/index.m3u8", "generic", 20.0), ("/hls.html", "html5", 20.0)],
)
async def test_hls_section(
    site: str, tmp_path: Path, path: str, extractor: str, duration: float | None
) -> None:
    section = await download_page_section(
        f"{site}{path}", 5, 7, workdir=tmp_path, allow_private=True
    )
    assert (section.extractor, section.duration, section.offset) == (extractor, duration, 4.0)
    length, has_video, has_audio = _streams(section.path)
    assert has_video and has_audio and 3.5 <= length <= 4.6


@pytest.mark.parametrize("path", ["/hls/index.m3u8", "/hls.html"])
async def test_hls_range_beyond_the_end(site: str, tmp_path: Path, path: str) -> None:
    error = await _refused(f"{site}{path}", tmp_path, start=25, end=27)
    assert error.kind == "range_outside"


async def test_margin_is_clamped_at_the_start(site: str, tmp_path: Path) -> None:
    section = await download_page_section(
        f"{site}/page.html", 0.5, 2, workdir=tmp_path, allow_private=True, margin=1.0
    )
    assert section.offset == 0.0
    duration, _, has_audio = _streams(section.path)
    assert has_audio and 2.5 <= duration <= 3.6


async def test_private_page_is_refused_up_front(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/page.html", tmp_path, allow_private=False)
    assert error.kind == "private_address"


async def test_media_on_a_private_host_is_refused(
    site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page server counts as public here; the video it points at resolves privately.
    real_shape = net_guard.check_url_shape

    def shape(url: str, *, allow_private: bool) -> str:
        return real_shape(url, allow_private=allow_private or url.startswith(site))

    async def resolves(host: str, *, allow_private: bool) -> None:
        assert host == "127.0.0.1"

    monkeypatch.setattr(media_pages, "check_url_shape", shape)
    monkeypatch.setattr(page_checks, "check_url_shape", shape)
    monkeypatch.setattr(media_pages, "check_host_resolves_public", resolves)
    monkeypatch.setattr(dns, "resolve_host", lambda host, port: ["10.0.0.5"])
    error = await _refused(f"{site}/elsewhere.html", tmp_path, allow_private=False)
    assert error.kind == "private_address"
    assert str(error) == "That link points to a private network address."


async def test_page_with_two_videos_is_a_playlist(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/two.html", tmp_path)
    assert error.kind == "playlist"
    assert str(error) == "That link is a playlist; send a link to one video."


async def test_page_without_video_is_unsupported(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/none.html", tmp_path)
    assert error.kind == "unsupported_site"
    assert "isn't supported" in str(error)


async def test_missing_page_fails_to_download(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/gone.html", tmp_path)
    assert error.kind == "download_failed"


async def test_range_beyond_the_end_is_refused(site: str, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        await download_page_section(
            f"{site}/page.html", 25, 27, workdir=tmp_path, allow_private=True
        )
    assert caught.value.kind == "range_outside"
    assert "0:20" in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240


async def test_video_without_audio_is_refused(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/silent.html", tmp_path)
    assert error.kind == "no_audio"


async def test_too_long_video_is_refused(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/page.html", tmp_path, max_duration=10.0)
    assert error.kind == "too_long"


async def test_too_big_video_is_refused(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/page.html", tmp_path, max_filesize=10_000)
    assert error.kind == "too_big"


async def test_slow_page_times_out(site: str, tmp_path: Path) -> None:
    error = await _refused(f"{site}/slow.html", tmp_path, timeout=0.3)
    assert error.kind == "download_failed"
    assert "too long" in str(error)


async def test_non_http_link_is_refused(tmp_path: Path) -> None:
    error = await _refused("file:///etc/passwd", tmp_path)
    assert error.kind == "download_failed"


# --- Egress proxy in the path: 127.0.0.2 ("public.test") plays a public address. ---

PUBLIC_HOST = "public.test"  # not resolvable for real: only the proxy's faked DNS knows it


@pytest_asyncio.fixture
async def private_site(page_media: Path) -> AsyncIterator[tuple[str, list[str]]]:
    """A server on a private address (127.0.0.1) that records every request it gets."""
    seen: list[str] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/page.html", _respond(PAGES["/page.html"]))
    app.router.add_static("/", page_media)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _respond(body: str, content_type: str = "text/html") -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type=content_type)

    return handle


def _redirect(location: str) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        raise web.HTTPFound(location)

    return handle


@pytest_asyncio.fixture
async def public_site(
    page_media: Path,
    private_site: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[str]:
    """`http://public.test:PORT` on 127.0.0.2, faked public everywhere it is checked."""
    private, _ = private_site
    playlist = (page_media / "hls" / "index.m3u8").read_text()
    evil = playlist.replace("seg", f"{private}/hls/seg")
    app = web.Application()
    app.router.add_get("/page.html", _respond(PAGES["/page.html"]))
    app.router.add_get("/hls.html", _respond(PAGES["/hls.html"]))
    app.router.add_get("/evil.html", _respond(_page("/evil.m3u8")))
    app.router.add_get("/redirect.html", _redirect(f"{private}/page.html"))
    app.router.add_get("/rebind.html", _redirect("http://inside.test/page.html"))
    app.router.add_get("/evil.m3u8", _respond(evil, "application/vnd.apple.mpegurl"))
    app.router.add_static("/", page_media)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.2", 0).start()
    port = runner.addresses[0][1]

    def resolve(host: str, port: int) -> list[str]:
        fake = {PUBLIC_HOST: ["127.0.0.2"], "inside.test": ["127.0.0.1"]}
        return fake.get(host) or real_resolve(host, port)

    def public(address: str) -> bool:
        return address == "127.0.0.2" or net_guard.is_public_address(address)

    async def resolves(host: str, *, allow_private: bool) -> None:
        assert host == PUBLIC_HOST

    real_resolve = dns.resolve_host
    monkeypatch.setattr(dns, "resolve_host", resolve)
    monkeypatch.setattr(media_pages, "check_host_resolves_public", resolves)
    for module in (page_checks, reader, egress_proxy):
        monkeypatch.setattr(module, "is_public_address", public)
    try:
        yield f"http://{PUBLIC_HOST}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("path", ["/page.html", "/hls.html", "/hls/index.m3u8"])
async def test_public_page_downloads_through_the_proxy(
    public_site: str, private_site: tuple[str, list[str]], tmp_path: Path, path: str
) -> None:
    # `public.test` only resolves inside the proxy: success means yt-dlp, the probes
    # and ffmpeg (HLS segments) all fetched through it.
    section = await download_page_section(
        f"{public_site}{path}", 5, 7, workdir=tmp_path, allow_private=False, timeout=30.0
    )
    length, has_video, has_audio = _streams(section.path)
    assert has_video and has_audio and 3.5 <= length <= 4.6
    assert private_site[1] == []


@pytest.mark.parametrize("path", ["/redirect.html", "/rebind.html"])
async def test_redirect_to_a_private_address_is_refused(
    public_site: str, private_site: tuple[str, list[str]], tmp_path: Path, path: str
) -> None:
    error = await _refused(f"{public_site}{path}", tmp_path, allow_private=False)
    assert (error.kind, str(error)) == ("private_address", page_checks.PRIVATE)
    assert private_site[1] == [], "the private server got no request"


@pytest.mark.parametrize("path", ["/evil.m3u8", "/evil.html"])
async def test_hls_segments_on_a_private_address_are_refused(
    public_site: str, private_site: tuple[str, list[str]], tmp_path: Path, path: str
) -> None:
    error = await _refused(f"{public_site}{path}", tmp_path, allow_private=False)
    assert (error.kind, str(error)) == ("private_address", page_checks.PRIVATE)
    assert private_site[1] == [], "ffmpeg fetched no segment from the private server"


async def test_no_proxy_lets_no_segment_bypass_the_proxy_and_stays_set(
    public_site: str,
    private_site: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ffmpeg skips its proxy for hosts in `no_proxy`: the private server's segments
    # would be fetched directly if ffmpeg inherited it.
    private_host = "127.0.0.1"
    monkeypatch.setenv("NO_PROXY", private_host)
    monkeypatch.setenv("no_proxy", private_host)
    error = await _refused(f"{public_site}/evil.m3u8", tmp_path, allow_private=False)
    assert (error.kind, str(error)) == ("private_address", page_checks.PRIVATE)
    assert private_site[1] == [], "ffmpeg fetched no segment from the private server"
    # The rest of the process (the toapis client, other tools) still sees the setting.
    assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == private_host
