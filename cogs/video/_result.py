"""The finished video: posted as a file when it fits the channel's upload limit, else a link.

The file is streamed to a temporary file on the video download pool (never in memory,
never ahead of the avatars that cards wait for) and deleted once the message is sent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import discord

from bot.domain.records import Job
from bot.media.assets import downloaded
from bot.media.errors import MediaError
from cogs.shared.render import COLOR_DONE, Rendered, job_locale, speaker, video_fields

log = logging.getLogger(__name__)

VIDEO_MAX_BYTES = 200 * 1024 * 1024  # never download more than this
VIDEO_TIME_LIMIT = 300.0
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's smallest upload limit


def video_url(job: Job) -> str | None:
    """The first video URL a completed video job got back."""
    videos = job.result.get("videos") or []
    return str(videos[0]["url"]) if videos and videos[0].get("url") else None


@contextlib.asynccontextmanager
async def video_result(job: Job, *, allow_private: bool) -> AsyncIterator[Rendered]:
    """The video card, for the length of a `with` block: the file when it fits the limit
    stored with the job, else the link (the downloaded file is deleted afterwards)."""
    url = video_url(job)
    limit = int(job.meta.get("filesize_limit") or DEFAULT_UPLOAD_LIMIT)
    async with contextlib.AsyncExitStack() as stack:
        path: Path | None = None
        if url is not None:
            try:
                path = await stack.enter_async_context(
                    downloaded(
                        url,
                        allow_private=allow_private,
                        max_bytes=min(VIDEO_MAX_BYTES, limit),
                        time_limit=VIDEO_TIME_LIMIT,
                        suffix=".mp4",
                    )
                )
            except MediaError as exc:  # too large for the channel, or not fetched: the link
                log.info("job %d: video posted as a link (%s: %s)", job.id, exc.kind, exc)
        yield _render(job, url, path)


def _render(job: Job, url: str | None, path: Path | None) -> Rendered:
    t = speaker(job_locale(job))
    embed = discord.Embed(title=t("Your video is ready"), colour=COLOR_DONE)
    if path is None and url is not None:
        expires = int(job.result.get("expires_at") or (job.finished_at or 0) + 24 * 3600)
        embed.description = t(
            "[Open the video]({url}): it is too large to post here. "
            "The link expires in 24 hours (<t:{expires}:R>).",
            url=url,
            expires=expires,
        )
    elif path is None:
        embed.description = t("toapis finished but sent no video link.")
    video_fields(embed, job)
    if job.task_id:
        embed.set_footer(text=t("Task {task_id}", task_id=job.task_id))
    content = f"<@{job.requester_id}>" if job.requester_id else None
    attached = ("video.mp4", path) if path is not None else None
    return Rendered(content=content, embeds=[embed], avatar=attached)
