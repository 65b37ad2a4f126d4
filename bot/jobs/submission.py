"""Sending a job's create request once, and storing what came of it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot import metrics
from bot.domain.records import Job, JobKind, JobState
from bot.i18n.text import Text
from bot.jobs.binder import Binder
from bot.jobs.binding import (
    REBINDING,
    REUPLOADING,
    SORA,
    SORA_GONE,
    BindRequest,
    is_bind_request,
)
from bot.jobs.results import stored_now
from bot.jobs.submit_line import HOLD_NOTES
from bot.jobs.timings import TrackerTimings, submit_backoff
from bot.providers.base import (
    AssetUnusableError,
    AuthenticationError,
    CharacterRequest,
    ImageUnreadableError,
    ImageUrlsRequiredError,
    ModelUnavailableError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    Task,
    TaskStatus,
)
from bot.providers.interface import CharacterProvider
from bot.providers.video import VideoRequest, is_video_request
from storage import JobRepository

log = logging.getLogger(__name__)

# What a job sends when its turn comes: a character task, a video task, or a binding.
Sendable = CharacterRequest | VideoRequest | BindRequest

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
    request: Sendable,
    attempt: int,
    timings: TrackerTimings,
    clock: Callable[[], float],
    owner: str | None = None,
    binder: Binder | None = None,
) -> tuple[Job, bool]:
    """The create request and its stored outcome; True when the listener is to be told.

    The outcome is stored only over the job still SUBMITTING (and held by `owner`, if
    given); if another process settled it meanwhile, the job as stored is returned.
    """
    try:
        try:
            if isinstance(request, BindRequest):
                if binder is None:
                    raise RuntimeError("a binding job needs a binder")
                task = await binder.start(job, request)
            elif isinstance(request, VideoRequest):
                task = await _create_video(provider, jobs, job, request)
            else:
                task = await provider.create_character(request)
        except ModelUnavailableError:
            instead = without_sora(job)
            if instead is None or binder is None:
                raise
            # Sora is gone, but the likeness is kept: bind it to the other engines.
            job = await jobs.set_request(job.id, instead.body())
            task = await binder.start(job, instead)
    except ProviderError as exc:
        refusal = _refusal(exc, timings, attempt, clock)
        changed = await jobs.update_status(
            job.id,
            refusal.state,
            0,
            error_code=refusal.code,
            error=refusal.reason,
            retry_at=refusal.retry_at,
            leaving=SENDING,
            owner=owner,
        )
        told = changed is not None and refusal.state is JobState.WAITING
        return await stored_now(jobs, job.id, changed), told
    return await _record_accepted(provider, jobs, job, task, clock, owner)


@dataclass(frozen=True)
class _Refusal:
    """What a create request that raised leaves the job as."""

    state: JobState
    code: str
    reason: Text  # the member reads it in their language; the log in English
    retry_at: float | None = None


def _refusal(
    exc: ProviderError, timings: TrackerTimings, attempt: int, clock: Callable[[], float]
) -> _Refusal:
    """The job's state after `exc`: WAITING when nothing was created (sent again later),
    UNKNOWN when the request may have reached the service, else FAILED."""
    code = type(exc).__name__
    said = exc.user_text
    if isinstance(exc, SubmissionUncertainError):
        return _Refusal(JobState.UNKNOWN, "uncertain", said)
    if isinstance(exc, (RateLimitedError, ServiceUnavailableError)):
        # Not accepted, so nothing was created or charged: safe to send again later,
        # not before toapis' Retry-After (the member is shown when).
        wait = max(submit_backoff(timings, attempt), retry_after(exc))
        return _Refusal(JobState.WAITING, code, said, clock() + wait)
    if isinstance(exc, AssetUnusableError):  # its characters are bound again (`Binder`)
        return _Refusal(JobState.FAILED, code, Text(REBINDING))
    if isinstance(exc, ImageUnreadableError):  # their stills are uploaded again (`Binder`)
        return _Refusal(JobState.FAILED, code, Text(REUPLOADING))
    if isinstance(exc, (PaymentRequiredError, AuthenticationError)):
        # The account itself is refused: nothing was created; the job keeps its place in
        # line while the line is held, and the member is told why.
        return _Refusal(JobState.WAITING, code, Text(HOLD_NOTES[code]))
    return _Refusal(JobState.FAILED, code, said)


async def _record_accepted(
    provider: CharacterProvider,
    jobs: JobRepository,
    job: Job,
    task: Task,
    clock: Callable[[], float],
    owner: str | None,
) -> tuple[Job, bool]:
    """Store the task id toapis gave the job (True: the listener is to be told)."""
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


async def _create_video(
    provider: CharacterProvider, jobs: JobRepository, job: Job, request: VideoRequest
) -> Task:
    """A video request; when Vidu asks for `image_urls` too, sent once more with each
    subject's first image there (what it will send from now on is stored first)."""
    try:
        return await provider.create_video(request)
    except ImageUrlsRequiredError:
        again = request.with_first_images()
        if again == request:
            raise
        await jobs.set_request(job.id, again.model_dump(exclude_none=True))
        return await provider.create_video(again)


def without_sora(job: Job) -> BindRequest | None:
    """What a character job whose Sora model is gone binds instead: its kept likeness, to
    the other engines of its server (None: it kept none, or there are none)."""
    likeness, bind = job.meta.get("likeness"), job.meta.get("bind")
    if not isinstance(likeness, str) or not bind or job.kind is not JobKind.CHARACTER:
        return None
    return BindRequest(
        bind=tuple(str(e) for e in bind),
        likeness=likeness,
        name=str(job.meta.get("name") or "character"),
        refused={SORA: SORA_GONE},
    )


def request_of(job: Job) -> Sendable:
    """The create request stored with a job."""
    if is_bind_request(job.request):
        return BindRequest.model_validate(job.request)
    if is_video_request(job.request):
        return VideoRequest.model_validate(job.request)
    return CharacterRequest.model_validate(job.request)


def retry_after(exc: ProviderError) -> float:
    """How long the service asked us to wait (0 when it did not say)."""
    return exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else 0.0
