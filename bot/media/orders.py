"""Turning what a user typed into a checked order, before any network call.

Everything here that needs no I/O runs before the bot answers Discord; `resolve` is the
part that does (name resolution) and runs after the reply is deferred.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.domain.ranges import ClipRange, RangeError
from bot.domain.records import NewJob, SourceKind
from bot.i18n.text import Text, TextError
from bot.net.address_guard import UnsafeURLError, check_host_resolves_public, check_url_shape
from bot.providers.base import DEFAULT_MODEL, MODELS, CharacterRequest

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".m4v")
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{3,99}$", re.ASCII)
DEFAULT_MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024


class OrderError(TextError):
    """Input that cannot become a job; its `text` is shown to the user."""


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """What we know of an attached file without downloading it."""

    url: str
    filename: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class CreateOrder:
    """A checked create request: one source, a 1-3 s range, a model."""

    kind: SourceKind
    reference: str  # what the user gave, for display (file name, link or task id)
    clip: ClipRange
    model: str
    url: str | None = None
    from_task: str | None = None
    path: Path | None = None  # a file on this machine: only `local_order` (the CLI) sets it

    def request(self) -> CharacterRequest:
        """What the provider is asked for."""
        return CharacterRequest(
            model=self.model,
            start=self.clip.start,
            end=self.clip.end,
            url=self.url,
            from_task=self.from_task,
        )

    def new_job(
        self,
        *,
        guild_id: int,
        channel_id: int | None,
        message_id: int | None,
        requester_id: int | None,
        provider: str,
        meta: dict[str, Any] | None = None,
    ) -> NewJob:
        """The job row for this order (`meta`: how to fetch the source again, etc.)."""
        return NewJob(
            guild_id=guild_id,
            source_kind=self.kind,
            source_ref=self.reference,
            range_start=self.clip.start,
            range_end=self.clip.end,
            model=self.model,
            provider=provider,
            channel_id=channel_id,
            message_id=message_id,
            requester_id=requester_id,
            meta=dict(meta or {}),
        )


def plan_order(
    *,
    video: AttachmentInfo | None = None,
    url: str | None = None,
    from_task: str | None = None,
    start: str | float,
    end: str | float,
    model: str | None = None,
    allow_private: bool = False,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> CreateOrder:
    """Check everything that needs no I/O; raise `OrderError` with a friendly message."""
    url = url.strip() if url else None
    from_task = from_task.strip() if from_task else None
    given = [
        name for name, value in (("video", video), ("url", url), ("from_task", from_task)) if value
    ]
    if len(given) != 1:
        sources = ", ".join(f"`{g}`" for g in given)
        raise OrderError(
            Text(
                "Give exactly one source: `video` (attach a file), `url` (a link to a video "
                "file) or `from_task` (an earlier task id). You gave {sources}.",
                sources=sources,
            )
            if given
            else Text(
                "Give exactly one source: `video` (attach a file), `url` (a link to a video "
                "file) or `from_task` (an earlier task id)."
            )
        )
    try:
        clip = ClipRange.parse(start, end)
    except RangeError as exc:
        raise OrderError(exc.text) from None
    model = model or DEFAULT_MODEL
    if model not in MODELS:
        raise OrderError(Text("Unknown model; choose one of {models}.", models=", ".join(MODELS)))
    if video is not None:
        return _attachment_order(video, clip, model, max_attachment_bytes)
    if url is not None:
        return _url_order(url, clip, model, allow_private)
    assert from_task is not None
    if not TASK_ID.match(from_task):
        raise OrderError(
            Text("`from_task` must be a task id such as `task_01KBYT59JDHB4A3KDDR9N9JVWP`.")
        )
    return CreateOrder(SourceKind.TASK, from_task, clip, model, from_task=from_task)


def local_order(
    path: Path,
    *,
    start: str | float,
    end: str | float,
    model: str | None = None,
    max_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> CreateOrder:
    """An order for a video file on this machine, cut and uploaded like an attachment.

    For the owner's command line only: no member-facing front builds one, so nobody in
    Discord can name a local path.
    """
    if not path.is_file():
        raise OrderError(f"{path} is not a file.")
    order = plan_order(
        video=AttachmentInfo(url=path.as_uri(), filename=path.name, size=path.stat().st_size),
        start=start,
        end=end,
        model=model,
        max_attachment_bytes=max_bytes,
    )
    return dataclasses.replace(order, url=None, path=path.resolve())


async def resolve(order: CreateOrder, *, allow_private: bool) -> CreateOrder:
    """The cheap I/O part of the checks: a link's host must resolve to public addresses.

    The video itself is probed by `bot.media.intake.MediaIntake.prepare`, which reads its
    header once for both the checks and the cut.
    """
    if order.kind in (SourceKind.URL, SourceKind.PAGE) and order.url:
        host = urlsplit(order.url).hostname or ""
        try:
            await check_host_resolves_public(host, allow_private=allow_private)
        except UnsafeURLError as exc:
            raise OrderError(exc.text) from None
    return order


def _attachment_order(
    video: AttachmentInfo, clip: ClipRange, model: str, max_bytes: int
) -> CreateOrder:
    name = video.filename or "video"
    is_video = (video.content_type or "").startswith("video/") or _has_video_suffix(name)
    if not is_video:
        raise OrderError(
            Text("`{name}` is not a video file; attach an MP4, MOV or WebM.", name=_short(name))
        )
    if video.size > max_bytes:
        raise OrderError(
            Text(
                "`{name}` is {size} MB; the limit is {limit} MB.",
                name=_short(name),
                size=round(video.size / 1048576),
                limit=max_bytes // 1048576,
            )
        )
    return CreateOrder(SourceKind.ATTACHMENT, name, clip, model, url=video.url)


def _url_order(url: str, clip: ClipRange, model: str, allow_private: bool) -> CreateOrder:
    try:
        check_url_shape(url, allow_private=allow_private)
    except UnsafeURLError as exc:
        raise OrderError(exc.text) from None
    if not _has_video_suffix(unquote(urlsplit(url).path)):
        # A page (YouTube, TikTok, X, Reddit...): yt-dlp finds the video in it.
        return CreateOrder(SourceKind.PAGE, url, clip, model, url=url)
    return CreateOrder(SourceKind.URL, url, clip, model, url=url)


_LINK = re.compile(r"https?://[^\s<>\"'|]+", re.IGNORECASE)


def find_links(text: str) -> list[str]:
    """http(s) links in a message, in order (Discord's <link> wrapping removed)."""
    return [link.rstrip(").,;!?>") for link in _LINK.findall(text or "")]


def _has_video_suffix(path: str) -> bool:
    return PurePosixPath(path.lower()).suffix in VIDEO_SUFFIXES


def _short(text: str, limit: int = 60) -> str:
    cleaned = text.replace("`", "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
