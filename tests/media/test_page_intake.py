"""Page links through `MediaIntake`: what is fetched from the origin, and what is sent.

A loopback site serves HTML pages and media (Range supported) and counts every byte it
sends; clips are uploaded to the real toapis simulator through the real `ToapisClient`.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import pytest_asyncio
from aiohttp import web

import bot.media.pages as media_pages
from bot.media import intake as intake_module
from bot.media import page_checks, reader
from bot.media.errors import MediaError
from bot.media.intake import MediaIntake
from bot.media.orders import plan_order
from bot.media.page_resolve import ResolvedPage
from bot.net import address_guard as net_guard
from bot.net import dns, egress_proxy
from bot.providers.toapis import ToapisClient
from bot.simulator import Simulator
from tests.sample_media import ffmpeg_exe

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _page(src: str) -> str:
    return f'<html><head><title>Long</title></head><body><video src="{src}"></video></body></html>'


@pytest.fixture(scope="module")
def long_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600 s 160x120 10 fps video with sound (keyframes every 10 s, about 16 MB) and
    an HLS copy of its first 120 s (2 s segments)."""
    root = tmp_path_factory.mktemp("long-media")
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    source = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=600"]
    source += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=600"]
    mp4 = [*source, *video, "-b:v", "150k", "-g", "100", "-movflags", "+faststart"]
    hls = ["-i", str(root / "long.mp4"), "-t", "120", *video, "-g", "20", "-f", "hls"]
    hls += ["-hls_time", "2", "-hls_playlist_type", "vod"]
    hls += ["-hls_segment_filename", str(root / "hls" / "seg%03d.ts")]
    (root / "hls").mkdir()
    for args in ([*mp4, str(root / "long.mp4")], [*hls, str(root / "hls" / "index.m3u8")]):
        command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
        subprocess.run(command, check=True, timeout=300)
    return root


@dataclass
class Site:
    """A loopback web server: pages, redirects, and files sent by ranges (counted)."""

    root: Path
    host: str = "127.0.0.1"
    pages: dict[str, str] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)  # bytes sent, by path
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent)
    base: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, 0).start()
        self.base = f"http://{self.host}:{self._runner.addresses[0][1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append((path, request.headers.get("User-Agent", "")))
        if path in self.pages:
            return web.Response(text=self.pages[path], content_type="text/html")
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        file = (self.root / path.lstrip("/")).resolve()
        if not file.is_file() or self.root not in file.parents:
            raise web.HTTPNotFound()
        size = file.stat().st_size
        first, last, status = 0, size - 1, 200
        match = _RANGE.match(request.headers.get("Range", ""))
        if match:
            first = int(match.group(1))
            last = min(int(match.group(2) or size - 1), size - 1)
            if first >= size:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        response = web.StreamResponse(status=status)
        response.content_length = last - first + 1
        response.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        await response.prepare(request)
        with file.open("rb") as handle:
            handle.seek(first)
            remaining = last - first + 1
            while remaining > 0:
                piece = handle.read(min(16384, remaining))
                try:
                    await response.write(piece)
                except (ConnectionError, RuntimeError):
                    break
                self.sent[path] += len(piece)
                remaining -= len(piece)
        return response


@pytest_asyncio.fixture
async def site(long_media: Path) -> AsyncIterator[Site]:
    server = Site(long_media)
    server.pages["/watch.html"] = _page("/long.mp4")
    server.pages["/hls.html"] = _page("/hls/index.m3u8")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def provider(simulator: Simulator) -> AsyncIterator[ToapisClient]:
    client = ToapisClient(simulator.base_url, simulator.scenario.api_key, max_attempts=1)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def uploads(simulator: Simulator) -> int:
    return sum(1 for r in simulator.requests if r.path == "/v1/uploads/videos")


async def clip_of(url: str) -> tuple[float, bool]:
    """(duration, has audio) of the uploaded clip, fetched back from the simulator."""
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    with av.open(io.BytesIO(response.content), mode="r") as container:
        assert container.duration is not None and container.streams.video
        return container.duration / av.time_base, bool(container.streams.audio)


async def test_progressive_file_on_a_page_is_read_by_ranges_like_a_direct_link(
    site: Site, provider: ToapisClient, simulator: Simulator, workdir: Path
) -> None:
    intake = MediaIntake(provider, allow_private=True, workdir=workdir)
    # The case: 2.5 s at 2:00 of a 10-minute file.
    order = plan_order(url=f"{site.base}/watch.html", start=120.0, end=122.5, allow_private=True)
    prepared = await intake.prepare(order)
    size = (site.root / "long.mp4").stat().st_size
    assert site.sent["/long.mp4"] <= 0.05 * size, (site.sent["/long.mp4"], size)
    assert prepared.uploaded and prepared.url is not None
    assert prepared.url.startswith(f"{simulator.base_url}/uploads/")
    assert (prepared.timestamps, prepared.clip_offset) == ("1,3.5", 119.0)
    duration, has_audio = await clip_of(prepared.url)
    assert duration == pytest.approx(2.5 + 2 * 1.0, abs=0.15) and has_audio
    assert prepared.info is not None and prepared.info.duration == pytest.approx(600, abs=0.2)
    assert uploads(simulator) == 1
    # The file is fetched with the same User-Agent yt-dlp used for the page.
    agents = {agent for path, agent in site.requests}
    assert len(agents) == 1 and "python-httpx" not in agents.pop()
    assert list(workdir.iterdir()) == []  # noqa: ASYNC240


async def test_hls_on_a_page_fetches_only_the_segments_covering_the_range(
    site: Site, provider: ToapisClient, simulator: Simulator, workdir: Path
) -> None:
    intake = MediaIntake(provider, allow_private=True, workdir=workdir)
    order = plan_order(url=f"{site.base}/hls.html", start=61.5, end=63.5, allow_private=True)
    prepared = await intake.prepare(order)
    assert prepared.uploaded and prepared.url is not None
    assert (prepared.timestamps, prepared.clip_offset) == ("1,3", 60.5)
    duration, has_audio = await clip_of(prepared.url)
    assert duration == pytest.approx(4, abs=0.3) and has_audio
    fetched = {path for path in site.sent if path.endswith(".ts")}
    # 2 s segments: 60.5-64.5 s lies in segments 30-32; ffmpeg reads the first few
    # segments to learn the streams before it seeks, and may read ahead past the end
    # (how far depends on timing), but never the bulk of the 300.
    assert fetched >= {f"/hls/seg{n:03d}.ts" for n in (30, 31, 32)}
    assert len(fetched) <= 10, sorted(fetched)
    assert all(n <= 3 or 30 <= n <= 36 for n in (int(p[-6:-3]) for p in fetched)), fetched
    assert uploads(simulator) == 1


# --- private addresses: 127.0.0.2 ("public.test") plays a public host -----------------


@pytest_asyncio.fixture
async def inside(long_media: Path) -> AsyncIterator[Site]:
    """A server on a private address (127.0.0.1) that must never be asked for anything."""
    server = Site(long_media)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def outside(
    long_media: Path, inside: Site, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Site, list[str]]]:
    """`public.test` on 127.0.0.2 with pages whose video is (or becomes) private.

    `rebound.test` resolves to 127.0.0.2 while the page is read, then to the private
    server's 127.0.0.1 (DNS rebinding): only the progressive read can notice.
    """
    server = Site(long_media, host="127.0.0.2")
    await server.start()
    port = server.base.rsplit(":", 1)[1]
    inside_port = inside.base.rsplit(":", 1)[1]
    server.base = f"http://public.test:{port}"
    server.redirects["/moved.mp4"] = f"{inside.base}/long.mp4"
    server.pages["/literal.html"] = _page(f"{inside.base}/long.mp4")
    server.pages["/named.html"] = _page(f"http://inside.test:{inside_port}/long.mp4")
    server.pages["/moved.html"] = _page("/moved.mp4")
    server.pages["/rebound.html"] = _page(f"http://rebound.test:{inside_port}/long.mp4")
    lookups: list[str] = []
    resolved: list[bool] = []

    async def resolve_page(*args: Any, **kwargs: Any) -> ResolvedPage:
        page = await real_resolve_page(*args, **kwargs)
        resolved.append(True)
        return page

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        if host == "rebound.test":
            return ["127.0.0.1"] if resolved else ["127.0.0.2"]
        fake = {"public.test": ["127.0.0.2"], "inside.test": ["127.0.0.1"]}
        if host in fake:
            return fake[host]
        raise OSError(f"unknown host {host}")

    def public(address: str) -> bool:
        return address == "127.0.0.2" or net_guard.is_public_address(address)

    async def resolves(host: str, *, allow_private: bool) -> None:
        assert host == "public.test"

    real_resolve_page = media_pages.resolve_page
    monkeypatch.setattr(intake_module, "resolve_page", resolve_page)
    monkeypatch.setattr(dns, "resolve_host", resolve)
    monkeypatch.setattr(media_pages, "check_host_resolves_public", resolves)
    for module in (page_checks, reader, egress_proxy):
        monkeypatch.setattr(module, "is_public_address", public)
    try:
        yield server, lookups
    finally:
        await server.stop()


@pytest.mark.parametrize("page", ["/literal.html", "/named.html", "/moved.html", "/rebound.html"])
async def test_a_page_video_on_a_private_address_is_refused(
    outside: tuple[Site, list[str]],
    inside: Site,
    provider: ToapisClient,
    simulator: Simulator,
    workdir: Path,
    page: str,
) -> None:
    site, lookups = outside
    intake = MediaIntake(provider, allow_private=False, workdir=workdir)
    order = plan_order(url=f"{site.base}{page}", start=121.5, end=124.0, allow_private=False)
    with pytest.raises(MediaError) as caught:
        await intake.prepare(order)
    assert caught.value.kind == "private_address"
    assert inside.requests == [] and sum(inside.sent.values()) == 0
    if page == "/rebound.html":  # the page's checks passed; the direct read refused it
        assert lookups.count("rebound.test") >= 2 and "/rebound.html" in site.pages
    assert uploads(simulator) == 0
    assert list(workdir.iterdir()) == []  # noqa: ASYNC240
