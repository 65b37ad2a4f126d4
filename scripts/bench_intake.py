"""Benchmark: `MediaIntake` against a naive intake that downloads the whole file.

Builds a 10-minute video, serves it from a loopback aiohttp origin that supports Range,
counts the bytes it sends and throttles them (2 MB/s by default), and uploads clips to an
in-process toapis simulator. For a 3 s range it prints, for a direct link, for a page link
(a generic HTML page with `<video src>` to the same file, read by yt-dlp) and for the naive
intake: bytes sent by the origin, wall time and peak Python memory (tracemalloc), then the
ratios and whether the targets hold (origin bytes <= 5 % of the file for both links,
intake time < 20 % of naive). yt-dlp is loaded before the page link is timed.

Then the likeness row (`_likeness_bench.py`): the clip + three stills of issue 24 against
the cut alone, from a 1080p source, CPU seconds and bytes read side by side
(`--likeness-only` runs that part alone).

    python scripts/bench_intake.py [--rate-mb 2] [--bitrate 400k] [--start 300.5]
        [--likeness-only] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import resource
import shutil
import subprocess
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from _likeness_bench import run_likeness_bench
from aiohttp import web

from bot.media.cut import clip_window, cut_window
from bot.media.intake import MediaIntake
from bot.media.orders import plan_order
from bot.media.pages import resolve_page
from bot.providers.toapis import ToapisClient
from bot.simulator import Simulator

SECONDS = 600
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
PAGE = "watch.html"  # a page whose only video is the source file


def ffmpeg_exe() -> str:
    """ffmpeg on PATH, else the static binary of imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def make_source(path: Path, bitrate: str) -> None:
    """A 10-minute 640x360 25 fps H.264 + AAC faststart MP4 (x264 default GOP, 10 s)."""
    duration = str(SECONDS)
    subprocess.run(  # noqa: S603 - fixed arguments, no user input
        [
            ffmpeg_exe(),
            *("-hide_banner", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={duration}"),
            *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={duration}"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
            *("-b:v", bitrate, "-c:a", "aac", "-b:a", "96k"),
            *("-movflags", "+faststart", "-t", duration, str(path)),
        ],
        check=True,
        timeout=600,
    )


class Origin:
    """A loopback file server with Range support that counts and paces what it sends."""

    def __init__(self, path: Path, rate: float) -> None:
        self.path = path
        self.rate = rate
        self.sent = 0
        self.requests = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_get("/{name}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/{self.path.name}"

    async def stop(self) -> None:
        """Close the server."""
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        """Zero the counters."""
        self.sent = self.requests = 0

    @property
    def page_url(self) -> str:
        """A generic page (`<video src>`) showing the source file."""
        return self.url.rsplit("/", 1)[0] + f"/{PAGE}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["name"] == PAGE:  # not counted: only the video's bytes are
            body = f'<html><title>Bench</title><video src="{self.path.name}"></video></html>'
            return web.Response(text=body, content_type="text/html")
        self.requests += 1
        size = self.path.stat().st_size
        first, last, status = 0, size - 1, 200
        match = _RANGE.match(request.headers.get("Range", ""))
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                first = int(match.group(1))
                last = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                first = max(0, size - int(match.group(2)))
            if first >= size:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        response = web.StreamResponse(status=status)
        response.content_type = "video/mp4"
        response.content_length = last - first + 1
        response.headers["Accept-Ranges"] = "bytes"
        if status == 206:
            response.headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        await response.prepare(request)
        began, written = time.monotonic(), 0
        with self.path.open("rb") as handle:
            handle.seek(first)
            remaining = last - first + 1
            while remaining > 0:
                piece = handle.read(min(16384, remaining))
                try:
                    await response.write(piece)
                except (ConnectionError, RuntimeError):
                    break
                self.sent += len(piece)
                written += len(piece)
                remaining -= len(piece)
                delay = began + written / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        return response


@dataclass
class Result:
    """One intake run."""

    sent: int
    requests: int
    seconds: float
    peak: int


async def measure(origin: Origin, run: Callable[[], Awaitable[object]]) -> Result:
    """Run once with counters reset and tracemalloc on."""
    origin.reset()
    tracemalloc.start()
    began = time.perf_counter()
    try:
        await run()
    finally:
        seconds = time.perf_counter() - began
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Result(origin.sent, origin.requests, seconds, peak)


async def naive(url: str, provider: ToapisClient, start: float, end: float, work: Path) -> None:
    """Download the whole file with httpx, cut locally, upload."""
    async with httpx.AsyncClient(timeout=600) as client:
        response = await client.get(url)
        response.raise_for_status()
    whole = work / "whole.mp4"
    await asyncio.to_thread(whole.write_bytes, response.content)
    begin, finish = clip_window(start, end, float(SECONDS), 1.0)

    def cut() -> Path:
        with whole.open("rb") as handle:
            out = cut_window(handle, work / "clip.mp4", begin, finish, cancel=threading.Event())
        return out.path

    clip = await asyncio.to_thread(cut)
    await provider.upload_video(clip)


def mb(value: float) -> str:
    return f"{value / 1e6:.2f} MB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-mb", type=float, default=2.0, help="origin rate, MB/s")
    parser.add_argument("--bitrate", default="400k", help="video bitrate of the source")
    parser.add_argument("--start", type=float, default=300.5, help="range start (3 s range)")
    parser.add_argument("--likeness-only", action="store_true", help="the likeness row only")
    parser.add_argument("--repeat", type=int, default=3, help="likeness runs (median)")
    args = parser.parse_args()
    if not args.likeness_only:
        await intake_rows(args)
    run_likeness_bench(ffmpeg_exe(), args.repeat)


async def intake_rows(args: argparse.Namespace) -> None:
    """The intake rows: direct link, page link, naive."""
    start, end = args.start, args.start + 3.0
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        began = time.perf_counter()
        make_source(source, args.bitrate)
        size = source.stat().st_size
        print(f"source: {SECONDS} s, {mb(size)} (built in {time.perf_counter() - began:.1f} s)")
        print(f"range {start}-{end} s; origin throttled to {args.rate_mb} MB/s\n")
        origin = Origin(source, args.rate_mb * 1e6)
        await origin.start()
        simulator = Simulator()
        await simulator.start()
        provider = ToapisClient(simulator.base_url, simulator.scenario.api_key, timeout=120)
        try:
            intake = MediaIntake(provider, allow_private=True, workdir=work)
            order = plan_order(url=origin.url, start=start, end=end, allow_private=True)
            smart = await measure(origin, lambda: intake.prepare(order))
            page_order = plan_order(url=origin.page_url, start=start, end=end, allow_private=True)
            # yt-dlp loads its extractors once per process (slowly under tracemalloc); the
            # bot pays that once, not per link. This reads the page only, not the video.
            await resolve_page(
                origin.page_url, start, end, allow_private=True, probe_progressive=False
            )
            page = await measure(origin, lambda: intake.prepare(page_order))
            full = await measure(origin, lambda: naive(origin.url, provider, start, end, work))
        finally:
            await provider.aclose()
            await simulator.stop()
            await origin.stop()
    print(f"{'':14}{'origin bytes':>16}{'% file':>8}{'requests':>10}{'wall s':>9}{'peak py':>12}")
    rows = (("direct link", smart), ("page link", page), ("naive", full))
    for name, result in rows:
        print(
            f"{name:14}{mb(result.sent):>16}{100 * result.sent / size:>7.1f}%"
            f"{result.requests:>10}{result.seconds:>9.2f}{mb(result.peak):>12}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (all runs, C allocations included): {rss:.0f} MB")
    for name, result in rows[:2]:
        share = result.sent / size
        print(
            f"origin bytes, {name}: {100 * share:.1f} % of the file (target <= 5 %): "
            f"{'OK' if share <= 0.05 else 'MISSED'}"
        )
    time_ratio = smart.seconds / full.seconds
    print(
        f"intake time, direct link: {100 * time_ratio:.1f} % of naive (target < 20 %): "
        f"{'OK' if time_ratio < 0.20 else 'MISSED'}"
    )
    print(f"peak Python memory: {100 * smart.peak / max(1, full.peak):.1f} % of naive")


if __name__ == "__main__":
    asyncio.run(main())
