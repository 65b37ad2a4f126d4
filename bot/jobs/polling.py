"""Following a sent job: status queries granted by the scheduler until the task ends, each
answer stored (and told) before the next."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.records import Job, JobKind, JobState
from bot.jobs.events import Tell
from bot.jobs.results import (
    AVATAR_MAX_BYTES,
    store_characters,
    store_failure,
    store_video,
    stored_now,
)
from bot.jobs.scheduler import Pace, PollScheduler, next_poll
from bot.jobs.submission import STATE_OF, retry_after
from bot.jobs.timings import TrackerTimings, video_poll_wait
from bot.jobs.webhook_health import WebhookHealth
from bot.media.assets import AssetDownload
from bot.media.errors import MediaError
from bot.net.rate_budget import prepaid
from bot.providers.base import (
    ProviderError,
    Task,
    TaskNotFoundError,
    TaskStatus,
)
from bot.providers.interface import CharacterProvider
from storage import JobRepository

log = logging.getLogger("bot.jobs.tracker")

WEBHOOK_POLL_FACTOR = 6.0  # polls are this much rarer while webhooks arrive


class Holder:
    """This process as the holder of job leases."""

    def __init__(self, jobs: JobRepository, owner: str) -> None:
        self.jobs = jobs
        self.owner = owner

    @property
    def required(self) -> str | None:
        """Who must hold a job for this process to change its state: this process on a
        shared database (PostgreSQL); nobody on SQLite (one process owns every job)."""
        return self.owner if self.jobs.shared else None

    def lost(self, job: Job) -> bool:
        """Another process holds this job now (a write of ours changed nothing)."""
        return self.jobs.shared and job.owner != self.owner


class Poller:
    """Polls one job at a time to its end, under the shared query budget."""

    def __init__(
        self,
        provider: CharacterProvider,
        jobs: JobRepository,
        *,
        holder: Holder,
        timings: Callable[[], TrackerTimings],
        clock: Callable[[], float],
        pace: Pace,
        polls: PollScheduler,
        health: WebhookHealth,
        tell: Tell,
        download: AssetDownload,
    ) -> None:
        self.provider = provider
        self.jobs = jobs
        self.holder = holder
        self._timings = timings
        self._clock = clock
        self.pace = pace
        self.polls = polls
        self.health = health
        self._tell = tell
        self._download = download

    async def until_final(self, job: Job) -> Job:
        """Query the job's task until it ends (or another process holds the job)."""
        task_id = job.task_id
        assert task_id is not None
        errors = polls = 0
        running = False
        started: float | None = None  # age when first seen running (not resumed so)
        video = job.kind is JobKind.VIDEO
        timeout = self._timings().video_timeout if video else self._timings().timeout
        query = self.provider.get_video_task if video else self.provider.get_task
        hold = 0.0  # toapis' Retry-After of the last status query
        while True:
            age = self._clock() - (job.submitted_at or job.created_at)
            if age > self._timings().max_age:
                changed = await self.jobs.update_status(
                    job.id,
                    JobState.FAILED,
                    job.progress,
                    error_code="gave_up",
                    error_message="The service did not finish within 24 hours; giving up.",
                    owner=self.holder.required,
                )
                return await stored_now(self.jobs, job.id, changed)
            if job.stalled_at is None and age > timeout:
                job = await self.jobs.mark_stalled(job.id)
                await self._tell("job_stalled", job)
            stalled = job.stalled_at is not None
            if video:
                wait = video_poll_wait(self._timings(), polls=polls, stalled=stalled, errors=errors)
            else:
                wait = next_poll(
                    self._timings(),
                    self.pace,
                    state=job.state,
                    age=age,
                    polls=polls,
                    stalled=stalled,
                    errors=errors,
                    started=started,
                    oldest=self.pace.oldest_queued(self._clock()),
                )
            if self.health.healthy():
                wait *= WEBHOOK_POLL_FACTOR  # events bring the outcome; polls only back up
            slot = await self.polls.turn(max(wait, hold))  # sleeps until granted
            hold = 0.0
            polls += 1
            try:
                with prepaid(slot):
                    task = await query(task_id)
            except TaskNotFoundError:
                errors += 1
                if age > self._timings().not_found_grace:
                    changed = await self.jobs.update_status(
                        job.id,
                        JobState.FAILED,
                        job.progress,
                        error_code="not_found",
                        error_message="The service no longer knows this task.",
                        owner=self.holder.required,
                    )
                    return await stored_now(self.jobs, job.id, changed)
                continue
            except ProviderError as exc:
                errors += 1
                hold = retry_after(exc)
                log.warning("job %d: status query failed (%s)", job.id, exc.detail or exc)
                continue
            errors = 0
            now = self._clock()
            age = now - (job.submitted_at or job.created_at)
            if not video and task.status is TaskStatus.QUEUED:
                self.pace.still_queued(age, now)
            if not video and not running and task.status is not TaskStatus.QUEUED:
                running = True
                if job.state is not JobState.IN_PROGRESS:  # not resumed already running
                    self.pace.started(age)
                    if task.status is TaskStatus.IN_PROGRESS:
                        started = age
            if not video and task.status is TaskStatus.COMPLETED:
                self.pace.finished(age, started)
            job = await self.record(job, task)
            if job.state.is_final:
                if task.status.is_final:  # not an outcome stored elsewhere meanwhile
                    self.health.ended_without_event(job)
                return job
            if self.holder.lost(job):
                return job  # its new holder follows it

    async def record(self, job: Job, task: Task) -> Job:
        """Store what a status answer (or webhook event) says; tell the listener of a change."""
        state = STATE_OF[task.status]
        if state is JobState.COMPLETED and job.kind is JobKind.VIDEO:
            return await store_video(self.jobs, job, task)
        if state is JobState.COMPLETED:
            return await store_characters(self.jobs, job, task, self._fetch_avatar)
        if state is JobState.FAILED:
            return await store_failure(self.jobs, job, task)
        if state != job.state or task.progress != job.progress:
            changed = await self.jobs.update_status(
                job.id, state, task.progress, owner=self.holder.required
            )
            if changed is None:  # a stale answer: ended meanwhile, or followed elsewhere
                return await stored_now(self.jobs, job.id, None)
            job = changed
            await self._tell("job_changed", job)
        return job

    async def _fetch_avatar(self, job: Job, url: str) -> bytes | None:
        try:
            return await self._download(url, AVATAR_MAX_BYTES)
        except MediaError as exc:
            log.warning("job %d: avatar not fetched (%s: %s)", job.id, exc.kind, exc)
            return None
