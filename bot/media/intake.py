"""Media intake: turn a checked order into the `url`/`from_task` and timestamps toapis gets.

- `from_task` orders pass unchanged (no I/O).
- A direct link (`SourceKind.URL`) is passed through unchanged, with the user's
  timestamps, when the video is short (at most `max_passthrough_seconds`) and within the
  upload limit: the link is the user's own and stable, and toapis fetches it itself.
- A Discord attachment URL is signed and expires, so an attachment is passed through only
  when the clip window would be the whole file anyway (and it is within the upload limit);
  otherwise it is cut and uploaded like a long link.
- Everything else is cut: [start - margin, end + margin], clamped to the video, is read
  through a `CheckedReader` (bounded Range requests, every redirect hop and address
  checked; PyAV never sees the URL), written to an MP4 in a private temporary directory,
  uploaded with `CharacterProvider.upload_video`, and the clip-relative timestamps are
  sent. The clip starts a whole number of seconds before the range so the timestamps come
  out whole where the span allows (decimals are unconfirmed at toapis).
- A page link is read by yt-dlp (`bot.media.pages`). When its video is one progressive
  http(s) file, that file is cut exactly like a direct link; otherwise (HLS, DASH, split
  audio and video) yt-dlp downloads the section, which is uploaded as the clip.

When no `MediaInfo` is given, the video is probed (as `bot.media.probe.probe_url` does:
streams, duration, size, then `check_clip`) through the same reader that then cuts it, so
the container index is fetched from the origin once, not twice.

Temporary files are deleted on success, on error and on cancellation (the worker thread is
waited for, and removes its directory itself if the caller has gone). The blocking probe
and cut, run in a media worker's thread, are `bot.media.clip_work`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bot.domain.ranges import format_timestamps
from bot.domain.records import SourceKind
from bot.i18n.text import Text
from bot.media.clip_work import (
    CLIP_NAME,
    FRAME_NAME,
    CutRules,
    passes_through,
    probe_and_cut,
)
from bot.media.cut import (
    Cut,
    snap_whole,
    still_jpeg,
)
from bot.media.errors import MediaError
from bot.media.likeness import Likeness, pick_stills
from bot.media.orders import CreateOrder
from bot.media.page_resolve import ProgressiveFile
from bot.media.pages import download_page_section, resolve_page
from bot.media.probe import MediaInfo, check_clip
from bot.media.workers import LineWatcher, MediaWorkers
from bot.net.egress_proxy import EgressProxy
from bot.providers.interface import CharacterProvider

UPLOADABLE_SUFFIXES = (".mp4", ".webm", ".mov")
DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024
DEFAULT_PREVIEW_LIMIT = 10 * 1024 * 1024
PAGE_TIME_LIMIT = 120.0  # reading a page, and downloading its section: each once started

# Keeps a likeness (the cut clip and its stills) before the clip's folder is removed, and
# says where it was kept.
Keeper = Callable[[Likeness], Awaitable[str]]


@dataclass(frozen=True)
class PreparedSource:
    """What to send to toapis, and what to show the user."""

    url: str | None  # the `url` to send (unchanged link, or the uploaded clip's URL)
    from_task: str | None
    start: float  # timestamps to send (relative to the clip when cut)
    end: float
    clip_offset: float | None  # where the sent clip begins in the source (None: not cut)
    uploaded: bool
    preview: bytes | None  # the clip (mp4) or a JPEG still; None when not cut
    preview_name: str | None  # "clip.mp4" or "frame.jpg"
    info: MediaInfo | None
    bytes_read: int = 0  # bytes fetched from the origin (probe and cut)
    stream_copied: bool = False  # the clip's packets were copied, not re-encoded
    likeness: str | None = None  # where the likeness was kept (None: not asked, or no cut)

    @property
    def timestamps(self) -> str:
        """The `timestamps` field for toapis."""
        return format_timestamps(self.start, self.end)


class MediaIntake:
    """Checks, cuts and uploads sources so toapis gets a stable URL and exact timestamps."""

    def __init__(
        self,
        provider: CharacterProvider,
        *,
        allow_private: bool,
        workdir: Path | None = None,
        margin: float = 1.0,
        max_passthrough_seconds: float = 20.0,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        time_limit: float = 120.0,
        workers: MediaWorkers | None = None,
    ) -> None:
        self.provider = provider
        self.workers = workers or MediaWorkers.create()
        self.allow_private = allow_private
        self.workdir = workdir
        self.margin = margin
        self.max_passthrough_seconds = max_passthrough_seconds
        self.upload_limit = upload_limit
        self.time_limit = time_limit

    @property
    def rules(self) -> CutRules:
        """What this intake allows (read by the worker thread)."""
        return CutRules(
            allow_private=self.allow_private,
            time_limit=self.time_limit,
            margin=self.margin,
            upload_limit=self.upload_limit,
            max_passthrough_seconds=self.max_passthrough_seconds,
        )

    async def prepare(
        self,
        order: CreateOrder,
        *,
        info: MediaInfo | None = None,
        preview_limit: int = DEFAULT_PREVIEW_LIMIT,
        watcher: LineWatcher | None = None,
        keep: Keeper | None = None,
    ) -> PreparedSource:
        """The source to send for `order`; raises `MediaError` or provider errors.

        Blocking work waits for a worker of its pool; meanwhile `watcher` hears how many
        jobs are ahead. With `keep`, the chosen range's likeness (the cut clip and three
        stills, picked in the same decode) is handed to it, also where the link itself is
        sent unchanged.
        """
        start, end = order.clip.start, order.clip.end
        if order.url is None and order.path is None:
            return PreparedSource(
                url=None,
                from_task=order.from_task,
                start=start,
                end=end,
                clip_offset=None,
                uploaded=False,
                preview=None,
                preview_name=None,
                info=info,
            )
        if order.kind is SourceKind.PAGE:
            return await self._prepare_page(order, preview_limit, watcher, keep)
        if info is not None:
            check_clip(info, start, end)
            if keep is None and passes_through(self.rules, order, info):
                return _unchanged(order, info, 0)
        return await self._cut_and_upload(order, info, preview_limit, watcher, keep=keep)

    async def _cut_and_upload(
        self,
        order: CreateOrder,
        info: MediaInfo | None,
        preview_limit: int,
        watcher: LineWatcher | None,
        source: ProgressiveFile | None = None,
        *,
        keep: Keeper | None = None,
    ) -> PreparedSource:
        """Probe (unless `info`) and cut by checked ranges, then upload the clip.

        What is read is the order's URL, or `source`: the file a page link resolved to.
        """
        start = order.clip.start
        workspace = Path(tempfile.mkdtemp(prefix="intake-", dir=self.workdir))
        cancel = threading.Event()
        try:
            known = info
            # Every byte comes through the egress proxy: it connects only to the address it
            # checked, so a name that resolves differently the second time gets nowhere.
            async with EgressProxy(allow_private=self.allow_private) as proxy:
                proxy_url = proxy.url
                outcome = await self.workers.media.run(
                    lambda: probe_and_cut(
                        self.rules,
                        order,
                        known,
                        workspace,
                        preview_limit,
                        cancel,
                        proxy_url,
                        source,
                        likeness=keep is not None,
                    ),
                    cancel=cancel,
                    watcher=watcher,
                )
            kept = None
            if keep is not None and outcome.likeness is not None:
                kept = await keep(outcome.likeness)
            if outcome.clip is None or outcome.passes_through:
                unchanged = _unchanged(order, outcome.info, outcome.bytes_read)
                return dataclasses.replace(unchanged, likeness=kept)
            clip = outcome.clip
            self._check_upload_size(clip.size)
            uploaded = await self.provider.upload_video(clip.cut.path, filename=CLIP_NAME)
        finally:
            await asyncio.to_thread(shutil.rmtree, workspace, ignore_errors=True)
        rel_start = snap_whole(start - clip.cut.offset)
        return PreparedSource(
            url=uploaded.url,
            from_task=None,
            start=rel_start,
            end=round(rel_start + order.clip.span, 3),
            clip_offset=clip.cut.offset,
            uploaded=True,
            preview=clip.preview,
            preview_name=clip.preview_name,
            info=outcome.info,
            bytes_read=outcome.bytes_read,
            stream_copied=clip.cut.copied,
            likeness=kept,
        )

    async def _prepare_page(
        self,
        order: CreateOrder,
        preview_limit: int,
        watcher: LineWatcher | None,
        keep: Keeper | None = None,
    ) -> PreparedSource:
        """A page link (see the module docstring)."""
        assert order.url is not None
        start, end = order.clip.start, order.clip.end
        page = await resolve_page(
            order.url,
            start,
            end,
            allow_private=self.allow_private,
            margin=self.margin,
            timeout=PAGE_TIME_LIMIT,
            probe_progressive=False,  # `probe_and_cut` reads the header once, for checks and cut
            pool=self.workers.pages,
            watcher=watcher,
        )
        if page.progressive is not None:
            return await self._cut_and_upload(
                order, None, preview_limit, watcher, page.progressive, keep=keep
            )
        workspace = Path(tempfile.mkdtemp(prefix="intake-page-", dir=self.workdir))
        try:
            section = await download_page_section(
                order.url,
                start,
                end,
                workdir=workspace,
                allow_private=self.allow_private,
                margin=self.margin,
                timeout=PAGE_TIME_LIMIT,
                resolved=page,
                pool=self.workers.pages,
                watcher=watcher,
            )
            suffix = section.path.suffix.lower()
            if suffix not in UPLOADABLE_SUFFIXES:
                raise MediaError(
                    "cut_failed", Text("The video came in a format toapis can't read.")
                )
            size = section.path.stat().st_size
            self._check_upload_size(size)
            rel_start = snap_whole(start - section.offset)
            preview, preview_name = await self.workers.media.run(
                partial(_preview_of, section.path, suffix, rel_start, size <= preview_limit)
            )
            kept = None
            if keep is not None:
                stills = await self.workers.media.run(
                    partial(pick_stills, section.path, rel_start, rel_start + order.clip.span)
                )
                cut = Cut(section.path, section.offset, copied=True)
                kept = await keep(Likeness(cut, stills))
            uploaded = await self.provider.upload_video(section.path, filename=f"clip{suffix}")
        finally:
            await asyncio.to_thread(shutil.rmtree, workspace, ignore_errors=True)
        return PreparedSource(
            url=uploaded.url,
            from_task=None,
            start=rel_start,
            end=round(rel_start + order.clip.span, 3),
            clip_offset=section.offset,
            uploaded=True,
            preview=preview,
            preview_name=preview_name,
            info=None,
            likeness=kept,
        )

    def _check_upload_size(self, size: int) -> None:
        if size > self.upload_limit:
            raise MediaError(
                "too_big",
                Text(
                    "The cut clip is {size} MB; the upload limit is {limit} MB.",
                    size=format(size / 1048576, ".1f"),
                    limit=round(self.upload_limit / 1048576),
                ),
            )


def _unchanged(order: CreateOrder, info: MediaInfo, bytes_read: int) -> PreparedSource:
    """The order's own URL and timestamps (pass-through)."""
    return PreparedSource(
        url=order.url,
        from_task=None,
        start=order.clip.start,
        end=order.clip.end,
        clip_offset=None,
        uploaded=False,
        preview=None,
        preview_name=None,
        info=info,
        bytes_read=bytes_read,
    )


def _preview_of(path: Path, suffix: str, at: float, whole: bool) -> tuple[bytes, str]:
    """The clip itself when it fits the upload limit, else a still frame (blocking)."""
    if whole:
        return path.read_bytes(), f"clip{suffix}"
    return still_jpeg(path, at), FRAME_NAME
