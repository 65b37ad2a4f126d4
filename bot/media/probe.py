"""Pre-flight probing of a video URL: fetch only the bytes the demuxer asks for.

PyAV reads stream information through a `CheckedReader`; the URL itself is never handed
to ffmpeg.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import av
import httpx

from bot.domain.ranges import format_clock
from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.local_file import LocalFile
from bot.media.reader import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_TIMEOUT,
    CheckedReader,
)

DEFAULT_MAX_DURATION = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What probing learnt about a video."""

    duration: float | None
    has_video: bool
    has_audio: bool
    size: int | None
    container: str
    width: int | None
    height: int | None
    bytes_read: int


def refuse_nested_open(url: str, flags: int, options: dict[str, Any]) -> Any:
    """Demuxers must not open further resources (playlists, references) on their own."""
    raise MediaError("not_a_video", Text("That file is not a video."))


def probe_url(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> MediaInfo:
    """Read the streams and duration of the video at `url` (blocking)."""
    reader = CheckedReader(
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_download_bytes,
        timeout=timeout,
        transport=transport,
        headers=headers,
    )
    try:
        try:
            container = av.open(reader, mode="r", io_open=refuse_nested_open)
        except Exception as exc:
            if reader.error is not None:
                raise reader.error from None
            if isinstance(exc, MediaError):
                raise
            raise MediaError("not_a_video", Text("That file is not a video.")) from None
        try:
            return describe(container, reader)
        finally:
            container.close()
    finally:
        reader.close()


def describe(container: Any, reader: CheckedReader | LocalFile) -> MediaInfo:
    video = container.streams.video[0] if container.streams.video else None
    duration: float | None = None
    if container.duration is not None:
        duration = container.duration / av.time_base
    elif video is not None and video.duration is not None and video.time_base is not None:
        duration = float(video.duration * video.time_base)
    return MediaInfo(
        duration=duration,
        has_video=video is not None,
        has_audio=bool(container.streams.audio),
        size=reader.size,
        container=str(container.format.name),
        width=int(video.codec_context.width) if video is not None else None,
        height=int(video.codec_context.height) if video is not None else None,
        bytes_read=reader.bytes_read,
    )


async def probe(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    time_limit: float = DEFAULT_TIMEOUT,
) -> MediaInfo:
    """`probe_url` in a worker thread (`time_limit` is its overall deadline)."""
    return await asyncio.to_thread(
        probe_url,
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_download_bytes=max_download_bytes,
        timeout=time_limit,
    )


def check_clip(
    info: MediaInfo, start: float, end: float, *, max_duration: float = DEFAULT_MAX_DURATION
) -> None:
    """Refuse videos without picture or sound, too long, or shorter than the range."""
    if not info.has_video:
        raise MediaError("not_a_video", Text("That file is not a video."))
    if not info.has_audio:
        raise MediaError(
            "no_audio",
            Text("That video has no sound; toapis needs an audio track to create a character."),
        )
    if info.duration is None:
        return
    if info.duration > max_duration:
        raise MediaError(
            "too_long",
            Text(
                "That video is {length} long; the limit is {limit}.",
                length=format_clock(round(info.duration)),
                limit=format_clock(max_duration),
            ),
        )
    if end > info.duration + 0.05:
        raise MediaError(
            "range_outside",
            Text(
                "The video is only {length} long; pick a range inside it.",
                length=format_clock(round(info.duration, 1)),
            ),
        )
