"""Sending a job's create request once, and storing what came of it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot import metrics
from bot.domain.records import Job, JobState
from bot.jobs.line import HOLD_NOTES
from bot.jobs.results import stored_now
from bot.jobs.timings import TrackerTimings, submit_backoff
from bot.providers.base import (
    AuthenticationError,
    CharacterRequest,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    TaskStatus,
)
from bot.providers.interface import CharacterProvider
from bot.providers.video import VideoRequest, is_video_request
from storage import JobRepository

log = logging.getLogger("bot.jobs.tracker")

SENDING = (JobState.SUBMITTING,)  # the one state a create request's answer may leave

STATE_OF = {
    TaskStatus.QUEUED: JobState.QUEUED,
    TaskStatus.IN_PROGRESS: JobState.IN_PROGRESS,
    TaskStatus.COMPLETED: JobState.COMPLETED,
    TaskStatus.FAILED: JobState.FAILED,
}


async def send_and_record(
    provider: CharacterProvider,
    jobs: JobRepository,
    job: Job,
    request: CharacterRequest | VideoRequest,
    attempt: int,
    timings: TrackerTimings,
    clock: Callable[[], float],
    owner: str | None = None,
) -> tuple[Job, bool]:
    """The create request and its stored outcome; True when the listener is to be told.

    The outcome is stored only over the job still SUBMITTING (and held by `owner`, if
    given); if another process settled it meanwhile, the job as stored is returned.
    """
    try:
        if isinstance(request, VideoRequest):
            task = await provider.create_video(request)
        else:
            task = await provider.create_character(request)
    except SubmissionUncertainError as exc:
        changed = await jobs.update_status(
            job.id,
            JobState.UNKNOWN,
            0,
            error_code="uncertain",
            error_message=exc.user_message,
            leaving=SENDING,
            owner=owner,
        )
        return await stored_now(jobs, job.id, changed), False
    except (RateLimitedError, ServiceUnavailableError) as exc:
        # Not accepted, so nothing was created or charged: safe to send again later,
        # not before toapis' Retry-After (the member is shown when).
        wait = max(submit_backoff(timings, attempt), retry_after(exc))
        changed = await jobs.update_status(
            job.id,
            JobState.WAITING,
            0,
            error_code=type(exc).__name__,
            error_message=exc.user_message,
            retry_at=clock() + wait,
            leaving=SENDING,
            owner=owner,
        )
        return await stored_now(jobs, job.id, changed), changed is not None
    except (PaymentRequiredError, AuthenticationError) as exc:
        # The account itself is refused: nothing was created; the job keeps its place in
        # line while the line is held, and the member is told why.
        code = type(exc).__name__
        changed = await jobs.update_status(
            job.id,
            JobState.WAITING,
            0,
            error_code=code,
            error_message=HOLD_NOTES[code],
            leaving=SENDING,
            owner=owner,
        )
        return await stored_now(jobs, job.id, changed), changed is not None
    except ProviderError as exc:
        changed = await jobs.update_status(
            job.id,
            JobState.FAILED,
            0,
            error_code=type(exc).__name__,
            error_message=exc.user_message,
            leaving=SENDING,
            owner=owner,
        )
        return await stored_now(jobs, job.id, changed), False
    log.info(
        "job %d: %s task %s",
        job.id,
        provider.name,
        task.id,
        extra={"job_id": job.id, "guild_id": job.guild_id, "task_id": task.id, "event": "accepted"},
    )
    metrics.QUEUE_WAIT.observe(max(0.0, clock() - job.created_at))
    # A task already over is stored as running: the first poll records its outcome.
    state = JobState.IN_PROGRESS if task.status.is_final else STATE_OF[task.status]
    changed = await jobs.set_submitted(job.id, task.id, state, task.progress, owner=owner)
    if changed is None:  # settled elsewhere meanwhile (e.g. reported unknown): say which task
        log.warning(
            "job %d: toapis task %s was accepted after the job was settled", job.id, task.id
        )
    return await stored_now(jobs, job.id, changed), changed is not None


def request_of(job: Job) -> CharacterRequest | VideoRequest:
    """The create request stored with a job."""
    if is_video_request(job.request):
        return VideoRequest.model_validate(job.request)
    return CharacterRequest.model_validate(job.request)


def retry_after(exc: ProviderError) -> float:
    """How long the service asked us to wait (0 when it did not say)."""
    return exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else 0.0
