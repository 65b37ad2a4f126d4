"""The blocking half of the media intake: probe and cut a source through one checked reader.

Runs in a media worker's thread (`bot.media.intake.MediaIntake` hands it over). Probing
and cutting share the reader, so the container index is fetched from the origin once;
with `likeness`, the stills of the chosen range are picked in the same decode.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import av
import httpx

from bot.domain.records import SourceKind
from bot.media.cut import (
    KEYFRAME_TOLERANCE,
    Cut,
    CutCancelled,
    clip_window,
    cut_container,
    still_jpeg,
)
from bot.media.errors import MediaError
from bot.media.likeness import Likeness, StillPicker
from bot.media.local_file import LocalFile
from bot.media.orders import CreateOrder
from bot.media.page_resolve import ProgressiveFile
from bot.media.probe import MediaInfo, check_clip, describe, refuse_nested_open
from bot.media.reader import CheckedReader

CLIP_NAME = "clip.mp4"
FRAME_NAME = "frame.jpg"
READ_CHUNK = 64 * 1024  # small Range windows: little read beyond what the demuxer needs


@dataclass(frozen=True, slots=True)
class CutRules:
    """What the intake allows: where it may read, how long, and what passes unchanged."""

    allow_private: bool
    time_limit: float
    margin: float  # seconds cut either side of the range
    upload_limit: int
    max_passthrough_seconds: float


@dataclass(frozen=True, slots=True)
class Clip:
    """The cut clip and what the member is shown of it."""

    cut: Cut
    size: int
    preview: bytes
    preview_name: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the worker found and made."""

    info: MediaInfo
    clip: Clip | None  # None: pass the URL through
    bytes_read: int
    likeness: Likeness | None = None  # the clip and stills, when asked for
    passes_through: bool = False  # cut for the likeness only: the URL is sent unchanged


def passes_through(rules: CutRules, order: CreateOrder, info: MediaInfo) -> bool:
    """Whether the order's own URL can be sent unchanged (see `bot.media.intake`)."""
    if order.path is not None:  # a local file: toapis can only read an upload
        return False
    if info.duration is None or info.size is None or info.size > rules.upload_limit:
        return False
    if order.kind is SourceKind.URL:
        return info.duration <= rules.max_passthrough_seconds
    begin, finish = clip_window(order.clip.start, order.clip.end, info.duration, rules.margin)
    whole = begin <= KEYFRAME_TOLERANCE and finish >= info.duration - KEYFRAME_TOLERANCE
    return order.kind is SourceKind.ATTACHMENT and whole


def probe_and_cut(
    rules: CutRules,
    order: CreateOrder,
    info: MediaInfo | None,
    workspace: Path,
    preview_limit: int,
    cancel: threading.Event,
    proxy_url: str | None = None,
    source: ProgressiveFile | None = None,
    *,
    likeness: bool = False,
) -> Outcome:
    """Blocking: probe (unless `info` is known) and cut through one checked reader.

    `source` (a page's file, with its headers and size limit) is read instead of the
    order's URL when given.
    """
    url = source.url if source is not None else order.url
    start, end = order.clip.start, order.clip.end
    limits = {"max_bytes": source.max_bytes} if source is not None else {}
    try:
        reader: CheckedReader | LocalFile
        if order.path is not None and source is None:
            reader = LocalFile(order.path)  # the owner's file (`local_order`)
        else:
            assert url is not None
            reader = CheckedReader(
                url,
                allow_private=rules.allow_private,
                timeout=rules.time_limit,
                chunk_size=READ_CHUNK,
                transport=httpx.HTTPTransport(proxy=proxy_url) if proxy_url else None,
                headers=source.headers if source is not None else None,
                **limits,
            )
        try:
            try:
                container = av.open(reader, mode="r", io_open=refuse_nested_open)
            except Exception as exc:
                raise _failure(reader, exc, "not_a_video", "That file is not a video.") from None
            passes = False
            picker = StillPicker(start, end) if likeness else None
            try:
                if info is None:
                    info = describe(container, reader)
                    check_clip(info, start, end)
                    passes = passes_through(rules, order, info)
                    if passes and not likeness:
                        return Outcome(info, None, reader.bytes_read)
                else:
                    passes = passes_through(rules, order, info)
                begin, finish = clip_window(start, end, info.duration, rules.margin)
                cut = cut_container(
                    container, workspace / CLIP_NAME, begin, finish, cancel=cancel, tap=picker
                )
            except CutCancelled:
                raise
            except Exception as exc:
                raise _failure(reader, exc, "cut_failed", "Could not cut the video.") from None
            finally:
                container.close()
        finally:
            bytes_read = reader.bytes_read
            reader.close()
        size = cut.path.stat().st_size
        if size <= preview_limit:
            preview, name = cut.path.read_bytes(), CLIP_NAME
        else:
            preview, name = still_jpeg(cut.path, start - cut.offset), FRAME_NAME
        kept = Likeness(cut, picker.pick()) if picker is not None else None
        return Outcome(info, Clip(cut, size, preview, name), bytes_read, kept, passes)
    finally:
        if cancel.is_set():  # the caller may already have left: clean up here
            shutil.rmtree(workspace, ignore_errors=True)


def _failure(
    reader: CheckedReader | LocalFile, exc: Exception, kind: str, message: str
) -> MediaError:
    """The reader's own error (network, limits) if it had one, else `exc` or a generic one."""
    if reader.error is not None:
        return reader.error
    if isinstance(exc, MediaError):
        return exc
    return MediaError(kind, message)
