"""Storing what a finished task produced: its characters (with avatars) or why it failed.

An outcome is what toapis said, so any process may store it (a webhook event reaches
any process), but only over a job still in flight: a final state is never overwritten."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.domain.records import Binding, BindingState, Job, JobState, NewCharacter
from bot.i18n import N_
from bot.i18n.text import Text
from bot.providers.base import Task
from storage import JobRepository

log = logging.getLogger(__name__)

AVATAR_MAX_BYTES = 8 * 1024 * 1024
NO_CHARACTER_MESSAGE = N_(
    "The service finished but found no character in that moment. "
    "Try a range where one character is clearly visible and speaking."
)

# Fetches an avatar image; None when it cannot (the card is posted without it).
AvatarFetch = Callable[[Job, str], Awaitable[bytes | None]]


async def stored_now(jobs: JobRepository, job_id: int, changed: Job | None) -> Job:
    """The job a state change returned, or, when it changed nothing (the job ended
    meanwhile, or another process holds it now), the job as stored: act on that."""
    if changed is not None:
        return changed
    stored = await jobs.get(job_id)
    assert stored is not None
    log.info("job %d: %s meanwhile (held by %s); left as it is", job_id, stored.state, stored.owner)
    return stored


async def store_failure(jobs: JobRepository, job: Job, task: Task) -> Job:
    """Record a failed task with its reason in plain words (if the job is in flight)."""
    error = task.error
    said = failure_text(error.message if error else "")  # toapis' words stay as they are
    changed = await jobs.update_status(
        job.id,
        JobState.FAILED,
        task.progress,
        error_code=str(error.code) if error and error.code is not None else "failed",
        error=Text(NO_REASON) if said == NO_REASON else said,
    )
    return await stored_now(jobs, job.id, changed)


async def store_characters(
    jobs: JobRepository, job: Job, task: Task, fetch_avatar: AvatarFetch
) -> Job:
    """Store a completed task's characters and mark the job COMPLETED (FAILED if none),
    if it is in flight; the job as stored afterwards."""
    found = task.characters
    if not found:
        changed = await jobs.update_status(
            job.id,
            JobState.FAILED,
            100,
            error_code="no_character",
            error=Text(NO_CHARACTER_MESSAGE),
        )
        return await stored_now(jobs, job.id, changed)
    likeness = job.meta.get("likeness")
    # The engines bound from the likeness once the card is out (`bot.jobs.binding`).
    later = tuple(
        Binding(str(engine), BindingState.PREPARING) for engine in job.meta.get("bind") or ()
    )
    chosen = str(job.meta.get("chosen_name") or "") if len(found) == 1 else ""
    new = []
    for info in found:
        avatar = None
        if info.profile_picture_url:
            avatar = await fetch_avatar(job, info.profile_picture_url)
        new.append(
            NewCharacter(
                guild_id=job.guild_id,
                character_id=info.id,
                task_id=task.id,
                display_name=chosen or info.display_name or info.username or info.id,
                username=info.username,
                job_id=job.id,
                avatar=avatar,
                avatar_mime=image_mime(avatar),
                creator_id=job.requester_id,
                likeness=likeness if isinstance(likeness, str) else None,
                bindings=later if isinstance(likeness, str) else (),
            )
        )
    await jobs.complete(job.id, new)
    stored = await jobs.get(job.id)
    assert stored is not None
    return stored


NO_REASON = N_("The service could not create a character from this moment.")
NO_VIDEO_MESSAGE = N_("The service finished but sent no video back. Please try again.")


async def store_video(jobs: JobRepository, job: Job, task: Task) -> Job:
    """Store a completed video task's result (its URLs live 24 hours) as COMPLETED, if
    the job is in flight; the job as stored afterwards."""
    videos = [video.model_dump(exclude_none=True) for video in task.videos]
    if not videos:
        changed = await jobs.update_status(
            job.id,
            JobState.FAILED,
            100,
            error_code="no_video",
            error=Text(NO_VIDEO_MESSAGE),
        )
    else:
        changed = await jobs.complete_video(
            job.id, {"videos": videos, "expires_at": task.expires_at, "task_id": task.id}
        )
    return await stored_now(jobs, job.id, changed)


def failure_text(message: str) -> str:
    """The service's failure message without its boilerplate prefix."""
    text = message.strip() or NO_REASON
    return text.removeprefix("Generation failed:").strip() or text


def image_mime(data: bytes | None) -> str | None:
    """The MIME type of an avatar image, from its first bytes."""
    if not data:
        return None
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
