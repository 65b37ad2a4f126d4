"""Page links (YouTube, TikTok, X, Reddit, any page yt-dlp reads) to a local clip.

yt-dlp runs as a library in a worker thread, in two steps: read the page without
downloading (refusing playlists, live streams, long or big videos, ranges outside the
video and any media URL that points into a private network), then download only the
requested section (plus a margin) with ffmpeg, re-encoded so the cut is exact.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import av
import httpx
import yt_dlp
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import DownloadError, UnsupportedError, YoutubeDLError, download_range_func

from bot.jobs.ranges import format_clock
from bot.media.egress_proxy import EgressProxy
from bot.media.errors import MediaError
from bot.media.net_guard import UnsafeURLError, check_host_resolves_public, check_url_shape
from bot.media.page_checks import (
    EXTINF,
    FAILED,
    FORMAT,
    LIVE,
    MAX_URL_HOPS,
    NO_AUDIO,
    OUTPUT_STEM,
    PLAYLIST,
    PLAYLIST_BYTES,
    PRIVATE,
    PROBE_BYTES,
    TIMED_OUT,
    UNSUPPORTED,
    LogSink,
    check_info,
    check_remote,
    chosen_formats,
    ffmpeg_path,
)
from bot.media.probe import probe_url
from bot.media.reader import CheckedReader, unreachable
from bot.media.workers import PAGE_DOWNLOAD_WORKERS, LineWatcher, WorkerPool

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageSection:
    """A downloaded section of a page's video."""

    path: Path  # local media file holding the section (video+audio)
    offset: float  # source time (s) at which the file starts
    title: str | None
    duration: float | None  # duration of the whole source video, if known
    extractor: str


@dataclass
class _Job:
    """One page download, run synchronously in a worker thread."""

    url: str
    start: float
    end: float
    workdir: Path
    allow_private: bool
    margin: float
    max_duration: float
    max_filesize: int
    timeout: float
    log: logging.Logger
    proxy_url: str | None = None  # every yt-dlp/ffmpeg/probe fetch goes through it
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def socket_timeout(self) -> float:
        """Per-connection timeout for yt-dlp and ffmpeg."""
        return max(5.0, min(30.0, self.timeout / 4))

    def options(self) -> dict[str, Any]:
        """yt-dlp parameters: quiet, single video, section only, bounded."""
        section = (max(0.0, self.start - self.margin), self.end + self.margin)
        return {
            "quiet": True,
            "noprogress": True,
            "logger": LogSink(self.log),
            "noplaylist": True,
            "lazy_playlist": True,
            "format": FORMAT,
            "download_ranges": download_range_func(None, [section]),
            "force_keyframes_at_cuts": True,
            "ffmpeg_location": ffmpeg_path(),
            "outtmpl": {"default": str(self.workdir / f"{OUTPUT_STEM}.%(ext)s")},
            "max_filesize": self.max_filesize,
            "socket_timeout": self.socket_timeout,
            "retries": 1,
            "fragment_retries": 1,
            "extractor_retries": 1,
            "cachedir": False,
            "overwrites": True,
            "progress_hooks": [self._hook],
            # FFmpegFD hands this to ffmpeg as `http_proxy` (HLS segments, keys, maps).
            "proxy": self.proxy_url,
            "external_downloader_args": {
                "ffmpeg_i": ["-rw_timeout", str(int(self.socket_timeout * 1_000_000))],
                "ffmpeg_o": ["-fs", str(self.max_filesize)],
            },
        }

    def _hook(self, status: dict[str, Any] | None = None) -> None:
        """Stop at the next step (or progress report) once the caller gave up."""
        if self.cancelled.is_set():
            raise MediaError("download_failed", TIMED_OUT)

    def run(self) -> tuple[Path, dict[str, Any]]:
        """Extract, check, download; returns the section file and the video's info."""
        # FFmpegFD.available() ignores the `ffmpeg_location` parameter and reads this
        # context variable instead (set per thread context, as yt-dlp's CLI does).
        FFmpegPostProcessor._ffmpeg_location.set(ffmpeg_path())
        try:
            with yt_dlp.YoutubeDL(self.options()) as ydl:
                info = self._resolve(ydl)
                self._hook()
                info = ydl.process_ie_result(info, download=False)
                self._hook()
                self._check_processed(info)
                self._hook()
                chosen_ids = {f.get("format_id") for f in chosen_formats(info)}
                # Only the checked format(s) are left to pick from when downloading.
                info["formats"] = [
                    f for f in info.get("formats") or [] if f.get("format_id") in chosen_ids
                ]
                result = ydl.process_ie_result(info, download=True)
        except DownloadError as exc:
            raise self._translate(exc) from None
        except YoutubeDLError:
            raise MediaError("download_failed", FAILED) from None
        return self._output(result), info

    def _resolve(self, ydl: Any) -> dict[str, Any]:
        """Page info without processing; follows url results only to checked URLs."""
        info: dict[str, Any] = ydl.extract_info(self.url, download=False, process=False)
        for _ in range(MAX_URL_HOPS):
            kind = info.get("_type", "video")
            if kind in ("playlist", "multi_video"):
                raise MediaError("playlist", PLAYLIST)
            if kind not in ("url", "url_transparent"):
                return info
            target = str(info.get("url") or "")
            check_remote(target, allow_private=self.allow_private)
            outer = info
            info = ydl.extract_info(
                target, download=False, process=False, ie_key=info.get("ie_key")
            )
            if kind == "url_transparent":
                for key in ("title", "duration", "is_live", "live_status"):
                    if outer.get(key) is not None and info.get(key) is None:
                        info[key] = outer[key]
        raise MediaError("download_failed", FAILED)

    def _check_processed(self, info: dict[str, Any]) -> None:
        if info.get("_type", "video") != "video":
            raise MediaError("playlist", PLAYLIST)
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)
        chosen = chosen_formats(info)
        for fmt in chosen:
            for key in ("url", "manifest_url"):
                if fmt.get(key):
                    check_remote(str(fmt[key]), allow_private=self.allow_private)
        if all(fmt.get("acodec") == "none" for fmt in chosen):
            raise MediaError("no_audio", NO_AUDIO)
        unknown = info.get("duration") is None or any(f.get("acodec") is None for f in chosen)
        protocol = chosen[0].get("protocol") if len(chosen) == 1 else None
        if unknown and protocol in ("http", "https"):
            self._probe(info, str(chosen[0]["url"]))
        elif info.get("duration") is None and protocol in ("m3u8", "m3u8_native"):
            self._hls_duration(info, str(chosen[0]["url"]))

    def _transport(self) -> httpx.HTTPTransport | None:
        return httpx.HTTPTransport(proxy=self.proxy_url) if self.proxy_url else None

    def _hls_duration(self, info: dict[str, Any], playlist_url: str) -> None:
        """Sum a media playlist's segment lengths (ffmpeg seeks past the end silently)."""
        reader = CheckedReader(
            playlist_url,
            allow_private=self.allow_private,
            max_bytes=PLAYLIST_BYTES,
            max_download_bytes=PLAYLIST_BYTES,
            timeout=min(self.timeout, 30.0),
            transport=self._transport(),
        )
        try:
            text = reader.read().decode("utf-8", "replace")
        finally:
            reader.close()
        if "#EXT-X-STREAM-INF" in text:
            return  # a master playlist: no segment lengths here
        if "#EXT-X-ENDLIST" not in text:
            raise MediaError("live", LIVE)
        info["duration"] = sum(float(m) for m in EXTINF.findall(text))
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)

    def _probe(self, info: dict[str, Any], media_url: str) -> None:
        """Fill in duration and audio for a direct file by reading its header only."""
        media = probe_url(
            media_url,
            allow_private=self.allow_private,
            max_download_bytes=PROBE_BYTES,
            timeout=min(self.timeout, 30.0),
            transport=self._transport(),
        )
        if not media.has_video:
            raise MediaError("not_a_video", "That page's file is not a video.")
        if not media.has_audio:
            raise MediaError("no_audio", NO_AUDIO)
        if media.duration is not None:
            info["duration"] = media.duration
        if media.size is not None and not info.get("filesize"):
            info["filesize"] = media.size
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)

    def _translate(self, exc: DownloadError) -> MediaError:
        cause = exc.exc_info[1] if exc.exc_info else None
        if isinstance(cause, MediaError):
            return cause
        if isinstance(cause, UnsupportedError) or "Unsupported URL" in str(exc):
            return MediaError("unsupported_site", UNSUPPORTED)
        if self.cancelled.is_set():
            return MediaError("download_failed", TIMED_OUT)
        return MediaError("download_failed", FAILED)

    def _output(self, result: dict[str, Any]) -> Path:
        """The produced section file, checked to hold picture and sound."""
        downloads = result.get("requested_downloads") or []
        candidate = downloads[0].get("filepath") if downloads else None
        path = Path(candidate) if candidate else None
        if path is None or not path.is_file():
            found = sorted(p for p in self.workdir.glob(f"{OUTPUT_STEM}.*") if p.suffix != ".part")
            path = found[0] if found else None
        if path is None or not path.is_file() or path.stat().st_size == 0:
            raise MediaError("download_failed", FAILED)
        if path.stat().st_size > self.max_filesize:
            raise MediaError("too_big", "That video section is too big.")
        try:
            with av.open(str(path)) as container:
                has_video = bool(container.streams.video)
                has_audio = bool(container.streams.audio)
                length = container.duration / av.time_base if container.duration else None
        except Exception:
            raise MediaError("download_failed", FAILED) from None
        if not has_video:
            raise MediaError("not_a_video", "That page's file is not a video.")
        if not has_audio:
            raise MediaError("no_audio", NO_AUDIO)
        if length is not None and max(0.0, self.start - self.margin) + length < self.end - 0.1:
            # The source's duration was unknown up front (e.g. HLS behind a page).
            raise MediaError(
                "range_outside",
                f"The video ends before {format_clock(self.end)}; pick a range inside it.",
            )
        return path


def _remove_new(workdir: Path, before: set[Path]) -> None:
    """Delete whatever appeared in `workdir` since `before` was taken."""
    if not workdir.is_dir():
        return
    for path in workdir.iterdir():
        if path in before:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


async def download_page_section(
    url: str,
    start: float,
    end: float,
    *,
    workdir: Path,
    allow_private: bool,
    margin: float = 1.0,
    max_duration: float = 4 * 3600,
    max_filesize: int = 500 * 1024 * 1024,
    timeout: float = 120.0,  # noqa: ASYNC109 (the thread cannot take a cancel scope)
    logger: logging.Logger = logger,
    pool: WorkerPool | None = None,
    watcher: LineWatcher | None = None,
) -> PageSection:
    """Download `start`..`end` (plus `margin` each side) of the video on the page `url`.

    yt-dlp's own messages go to `logger` at DEBUG. Raises `MediaError` with a user-facing
    message; on any failure what was written to
    `workdir` is removed (the caller owns `workdir` itself). The download runs on `pool`
    (page downloads' own few threads), `watcher` hearing the place in line meanwhile;
    `timeout` counts from when it starts. Every fetch yt-dlp, ffmpeg
    and the probes make goes through an `EgressProxy`; if it refused anything, the
    download fails with `private_address`.
    """
    if not 0 <= start < end:
        raise MediaError("range_outside", "The range must start before it ends.")
    try:
        host = check_url_shape(url, allow_private=allow_private)
        await check_host_resolves_public(host, allow_private=allow_private)
    except UnsafeURLError as exc:
        kind = "private_address" if "private" in str(exc) else "download_failed"
        raise MediaError(kind, str(exc)) from None
    job = _Job(
        url=url,
        start=start,
        end=end,
        workdir=workdir,
        allow_private=allow_private,
        margin=margin,
        max_duration=max_duration,
        max_filesize=max_filesize,
        timeout=timeout,
        log=logger,
    )
    _drop_proxy_exceptions()
    async with EgressProxy(allow_private=allow_private) as proxy:
        job.proxy_url = proxy.url
        return await _run(job, proxy, pool or _default_pool(), watcher)


def _drop_proxy_exceptions() -> None:
    """ffmpeg inherits the environment and would bypass the proxy for NO_PROXY hosts."""
    for name in ("NO_PROXY", "no_proxy"):
        if os.environ.pop(name, None) is not None:
            logger.warning("%s ignored: page downloads always go through the egress check", name)


@cache
def _default_pool() -> WorkerPool:
    """For callers without pools of their own (tools, tests)."""
    return WorkerPool(PAGE_DOWNLOAD_WORKERS, "page-download")


async def _run(
    job: _Job, proxy: EgressProxy, pool: WorkerPool, watcher: LineWatcher | None
) -> PageSection:
    """Run `job` in a thread with `proxy` in its path; clean up on any failure."""
    workdir, start, margin = job.workdir, job.start, job.margin
    before = set(workdir.iterdir())
    # Page downloads get their own small pool: a slow or stuck site can only ever hold
    # these threads, never the pools that name lookups, probes and cuts use.
    task = await pool.start(job.run, watcher=watcher)
    try:
        path, info = await asyncio.wait_for(asyncio.shield(task), job.timeout)
        if proxy.refused:  # e.g. some HLS segments skipped: never a partial result
            raise MediaError("private_address", PRIVATE)
    except BaseException as exc:
        job.cancelled.set()
        _remove_new(workdir, before)
        if not task.done():  # the thread goes on until yt-dlp notices; clean up after it
            task.add_done_callback(_after(lambda: _remove_new(workdir, before)))
        if proxy.refused and isinstance(exc, Exception):
            job.log.debug("egress proxy refused: %s", ", ".join(proxy.refused[:5]))
            raise MediaError("private_address", PRIVATE) from None
        if isinstance(exc, TimeoutError):
            raise MediaError("download_failed", TIMED_OUT) from None
        if proxy.unreachable and isinstance(exc, MediaError) and exc.kind == "download_failed":
            label, why = proxy.unreachable[0]
            raise unreachable(label.rpartition(":")[0], why) from None
        raise
    duration = info.get("duration")
    return PageSection(
        path=path,
        offset=max(0.0, start - margin),
        title=info.get("title"),
        duration=float(duration) if isinstance(duration, int | float) else None,
        extractor=str(info.get("extractor") or info.get("extractor_key") or "unknown"),
    )


def _after(cleanup: Callable[[], None]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it
        cleanup()

    return done
