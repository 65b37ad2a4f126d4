"""Page links (YouTube, TikTok, X, Reddit, any page yt-dlp reads) to a local clip.

yt-dlp runs as a library in a worker thread (the page-download pool), in two steps:
`resolve_page` reads the page without downloading (see `bot.media.page_resolve` for what
it refuses) and says whether the video is one progressive http(s) file, which the caller
can then read by ranges like a direct link; `download_page_section` downloads only the
requested section (plus a margin) with ffmpeg, re-encoded so the cut is exact (HLS/DASH:
only the segments that cover it).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import av
import yt_dlp
import yt_dlp.downloader.external as yt_dlp_external
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import DownloadError, Popen, YoutubeDLError

from bot.domain.ranges import format_clock
from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.page_checks import FAILED, NO_AUDIO, OUTPUT_STEM, PRIVATE, TIMED_OUT, ffmpeg_path
from bot.media.page_resolve import PageJob, ResolvedPage
from bot.media.reader import unreachable
from bot.media.workers import PAGE_DOWNLOAD_WORKERS, LineWatcher, WorkerPool
from bot.net.address_guard import UnsafeURLError, check_host_resolves_public, check_url_shape
from bot.net.egress_proxy import EgressProxy

T = TypeVar("T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageSection:
    """A downloaded section of a page's video."""

    path: Path  # local media file holding the section (video+audio)
    offset: float  # source time (s) at which the file starts
    title: str | None
    duration: float | None  # duration of the whole source video, if known
    extractor: str


class _Job(PageJob):
    """One page section download, run synchronously in a worker thread."""

    def resolve_only(self) -> ResolvedPage:
        """Read and check the page; download nothing (but header probes)."""
        with self._ydl() as ydl:
            return self.resolve(ydl)

    def download(self, page: ResolvedPage) -> Path:
        """Download the section of the video `page` resolved to; returns the file."""
        with self._ydl() as ydl:
            result = ydl.process_ie_result(copy.deepcopy(page.info), download=True)
            return self._output(result)

    @contextmanager
    def _ydl(self) -> Iterator[Any]:
        """A YoutubeDL with `options()`; yt-dlp's errors become `MediaError`s."""
        # FFmpegFD.available() ignores the `ffmpeg_location` parameter and reads this
        # context variable instead (set per thread context, as yt-dlp's CLI does).
        FFmpegPostProcessor._ffmpeg_location.set(ffmpeg_path())
        try:
            with yt_dlp.YoutubeDL(self.options()) as ydl:
                yield ydl
        except DownloadError as exc:
            raise self.translate(exc) from None
        except YoutubeDLError:
            raise MediaError("download_failed", FAILED) from None

    def _output(self, result: dict[str, Any]) -> Path:
        """The produced section file, checked to hold picture and sound."""
        assert self.workdir is not None
        downloads = result.get("requested_downloads") or []
        candidate = downloads[0].get("filepath") if downloads else None
        path = Path(candidate) if candidate else None
        if path is None or not path.is_file():
            found = sorted(p for p in self.workdir.glob(f"{OUTPUT_STEM}.*") if p.suffix != ".part")
            path = found[0] if found else None
        if path is None or not path.is_file() or path.stat().st_size == 0:
            raise MediaError("download_failed", FAILED)
        if path.stat().st_size > self.max_filesize:
            raise MediaError("too_big", Text("That video section is too big."))
        try:
            with av.open(str(path)) as container:
                has_video = bool(container.streams.video)
                has_audio = bool(container.streams.audio)
                length = container.duration / av.time_base if container.duration else None
        except Exception:
            raise MediaError("download_failed", FAILED) from None
        if not has_video:
            raise MediaError("not_a_video", Text("That page's file is not a video."))
        if not has_audio:
            raise MediaError("no_audio", NO_AUDIO)
        if length is not None and max(0.0, self.start - self.margin) + length < self.end - 0.1:
            # The source's duration was unknown up front (e.g. HLS behind a page).
            raise MediaError(
                "range_outside",
                Text(
                    "The video ends before {end}; pick a range inside it.",
                    end=format_clock(self.end),
                ),
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


def _job(
    url: str,
    start: float,
    end: float,
    *,
    allow_private: bool,
    margin: float,
    max_duration: float,
    max_filesize: int,
    timeout: float,
    logger: logging.Logger,
    workdir: Path | None = None,
) -> _Job:
    if not 0 <= start < end:
        raise MediaError("range_outside", Text("The range must start before it ends."))
    return _Job(
        url=url,
        start=start,
        end=end,
        allow_private=allow_private,
        margin=margin,
        max_duration=max_duration,
        max_filesize=max_filesize,
        timeout=timeout,
        log=logger,
        workdir=workdir,
    )


async def resolve_page(
    url: str,
    start: float,
    end: float,
    *,
    allow_private: bool,
    margin: float = 1.0,
    max_duration: float = 4 * 3600,
    max_filesize: int = 500 * 1024 * 1024,
    timeout: float = 120.0,  # noqa: ASYNC109 (the thread cannot take a cancel scope)
    logger: logging.Logger = logger,
    probe_progressive: bool = True,
    pool: WorkerPool | None = None,
    watcher: LineWatcher | None = None,
) -> ResolvedPage:
    """Read the page `url` with yt-dlp and check its video for `start`..`end`.

    Nothing is downloaded but what the checks need (the page, a file header or an HLS
    playlist), all of it through an `EgressProxy`. Raises `MediaError` like
    `download_page_section`. With `probe_progressive=False` a progressive file's header
    is left for the caller, who reads the file by ranges anyway (and checks it then).
    yt-dlp runs on `pool` (page downloads' own few threads), `watcher` hearing the place
    in line meanwhile; `timeout` counts from when it starts.
    """
    job = _job(
        url,
        start,
        end,
        allow_private=allow_private,
        margin=margin,
        max_duration=max_duration,
        max_filesize=max_filesize,
        timeout=timeout,
        logger=logger,
    )
    job.probe_progressive = probe_progressive
    await _check_page_host(url, allow_private=allow_private)
    _warn_proxy_exceptions()
    async with EgressProxy(allow_private=allow_private) as proxy:
        job.proxy_url = proxy.url
        return await _run(job, proxy, job.resolve_only, timeout, pool, watcher)


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
    resolved: ResolvedPage | None = None,
    pool: WorkerPool | None = None,
    watcher: LineWatcher | None = None,
) -> PageSection:
    """Download `start`..`end` (plus `margin` each side) of the video on the page `url`.

    The page is read first (`resolve_page`) unless `resolved` is what that returned for
    the same arguments. yt-dlp's own messages go to `logger` at DEBUG. Raises `MediaError`
    with a user-facing message; on any failure what was written to `workdir` is removed
    (the caller owns `workdir` itself). Every fetch yt-dlp, ffmpeg and the probes make
    goes through an `EgressProxy`; if it refused anything, the download fails with
    `private_address`. `timeout` covers both steps.
    """
    options: dict[str, Any] = {
        "allow_private": allow_private,
        "margin": margin,
        "max_duration": max_duration,
        "max_filesize": max_filesize,
        "timeout": timeout,
        "logger": logger,
    }
    job = _job(url, start, end, workdir=workdir, **options)
    deadline = asyncio.get_running_loop().time() + timeout
    if resolved is None:
        resolved = await resolve_page(url, start, end, pool=pool, watcher=watcher, **options)
    _warn_proxy_exceptions()
    async with EgressProxy(allow_private=allow_private) as proxy:
        job.proxy_url = proxy.url
        page = resolved
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        path = await _run(job, proxy, lambda: job.download(page), remaining, pool, watcher)
    return PageSection(
        path=path,
        offset=max(0.0, start - margin),
        title=resolved.title,
        duration=resolved.duration,
        extractor=resolved.extractor,
    )


async def _check_page_host(url: str, *, allow_private: bool) -> None:
    try:
        host = check_url_shape(url, allow_private=allow_private)
        await check_host_resolves_public(host, allow_private=allow_private)
    except UnsafeURLError as exc:
        kind = "private_address" if "private" in str(exc) else "download_failed"
        raise MediaError(kind, exc.text) from None


NO_PROXY_NAMES = ("NO_PROXY", "no_proxy")


class _ProxiedPopen(Popen):  # type: ignore[misc]
    """yt-dlp's `Popen` for the ffmpeg it starts to download: its environment has no
    NO_PROXY, which would let ffmpeg bypass the egress proxy (it reads `no_proxy` itself).
    Only the child's copy changes; the bot's own environment is left alone."""

    def __init__(self, args: Any, *rest: Any, env: dict[str, str] | None = None, **kw: Any) -> None:
        child = dict(os.environ if env is None else env)
        for name in NO_PROXY_NAMES:
            child.pop(name, None)
        super().__init__(args, *rest, env=child, **kw)


yt_dlp_external.Popen = _ProxiedPopen  # FFmpegFD starts ffmpeg through this name


@cache
def _warn_proxy_exceptions() -> None:
    """Say once that NO_PROXY does not apply to page downloads."""
    for name in NO_PROXY_NAMES:
        if os.environ.get(name):
            logger.warning("%s ignored: page downloads always go through the egress check", name)


@cache
def _default_pool() -> WorkerPool:
    """For callers without pools of their own (tools, tests)."""
    return WorkerPool(PAGE_DOWNLOAD_WORKERS, "page-download")


async def _run(
    job: _Job,
    proxy: EgressProxy,
    work: Callable[[], T],
    seconds: float,
    pool: WorkerPool | None,
    watcher: LineWatcher | None,
) -> T:
    """Run `work` on a page thread with `proxy` in its path; clean up on any failure.

    `seconds` counts from when a thread takes it, not while it waits in line.
    """
    workdir = job.workdir
    before = set(workdir.iterdir()) if workdir is not None else set()
    # Page downloads get their own small pool: a slow or stuck site can only ever hold
    # these threads, never the pools that name lookups, probes and cuts use.
    task = await (pool or _default_pool()).start(work, watcher=watcher)
    try:
        result = await asyncio.wait_for(asyncio.shield(task), seconds)
        if proxy.refused:  # e.g. some HLS segments skipped: never a partial result
            raise MediaError("private_address", PRIVATE)
    except BaseException as exc:
        job.cancelled.set()
        if workdir is not None:
            if not task.done():  # the thread goes on until yt-dlp notices; clean up after it
                task.add_done_callback(_after(lambda: _remove_new(workdir, before)))
            await asyncio.to_thread(_remove_new, workdir, before)
        if proxy.refused and isinstance(exc, Exception):
            job.log.debug("egress proxy refused: %s", ", ".join(proxy.refused[:5]))
            raise MediaError("private_address", PRIVATE) from None
        if isinstance(exc, TimeoutError):
            raise MediaError("download_failed", TIMED_OUT) from None
        if proxy.unreachable and isinstance(exc, MediaError) and exc.kind == "download_failed":
            label, why = proxy.unreachable[0]
            raise unreachable(label.rpartition(":")[0], why) from None
        raise
    return result


def _after(cleanup: Callable[[], None]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it
        asyncio.get_running_loop().run_in_executor(None, cleanup)  # files: off the loop

    return done
