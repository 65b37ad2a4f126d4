"""Following a sent job: status queries granted by the scheduler until the task ends, each
answer stored (and told) before the next."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.records import Job, JobKind, JobState
from bot.i18n import N_
from bot.i18n.text import Text
from bot.jobs.binder import Binder
from bot.jobs.binding import BindRequest, is_bind_request
from bot.jobs.events import Tell
from bot.jobs.pace import Paces, next_poll
from bot.jobs.results import (
    AVATAR_MAX_BYTES,
    store_characters,
    store_failure,
    store_video,
    stored_now,
)
from bot.jobs.scheduler import PollScheduler
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

log = logging.getLogger(__name__)

WEBHOOK_POLL_FACTOR = 6.0  # polls are this much rarer while webhooks arrive
GAVE_UP = N_("The service did not finish within 24 hours; giving up.")
NOT_FOUND = N_("The service no longer knows this task.")


@dataclass
class _Seen:
    """What polling one job has seen so far."""

    video: bool
    errors: int = 0  # failed status queries in a row
    polls: int = 0
    running: bool = False
    started: float | None = None  # age it started at, about (not resumed running)
    started_within: float = 0.0  # ... give or take this (half the time between two polls)
    queued_at: float = 0.0  # age when last seen queued (0: sent then)
    hold: float = 0.0  # toapis' Retry-After of the last status query


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
        paces: Paces,
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
        self.paces = paces
        self.polls = polls
        self.health = health
        self._tell = tell
        self._download = download
        self.binder: Binder | None = None  # follows binding jobs

    async def until_final(self, job: Job) -> Job:
        """Query the job's task until it ends (or another process holds the job)."""
        task_id = job.task_id
        assert task_id is not None
        binding = is_bind_request(job.request)
        seen = _Seen(video=job.kind is JobKind.VIDEO or binding)
        timeout = self._timings().video_timeout if seen.video else self._timings().timeout
        query: Callable[[str], Awaitable[Task]] = (
            self._binding_query(job)
            if binding
            else self.provider.get_video_task
            if seen.video
            else self.provider.get_task
        )
        while True:
            age = self._clock() - (job.submitted_at or job.created_at)
            if age > self._timings().max_age:
                return await self._fail(job, "gave_up", GAVE_UP)
            if job.stalled_at is None and age > timeout:
                job = await self.jobs.mark_stalled(job.id)
                await self._tell("job_stalled", job)
            wait = max(self._wait(job, age, seen), seen.hold)
            slot = await self.polls.turn(wait)  # sleeps until granted
            seen.hold = 0.0
            seen.polls += 1
            try:
                with prepaid(slot):
                    task = await query(task_id)
            except TaskNotFoundError:
                seen.errors += 1
                if age > self._timings().not_found_grace:
                    return await self._fail(job, "not_found", NOT_FOUND)
                continue
            except ProviderError as exc:
                seen.errors += 1
                seen.hold = retry_after(exc)
                log.warning("job %d: status query failed (%s)", job.id, exc.detail or exc)
                continue
            seen.errors = 0
            self._note_pace(job, task, seen)
            job = await self.record(job, task)
            if job.state.is_final:
                if task.status.is_final and not binding:  # not stored elsewhere meanwhile
                    self.health.ended_without_event(job)
                return job
            if self.holder.lost(job):
                return job  # its new holder follows it

    def _binding_query(self, job: Job) -> Callable[[str], Awaitable[Task]]:
        """The status query of a binding job: its assets, read by the binder."""
        binder = self.binder
        if binder is None:
            raise RuntimeError("a binding job needs a binder")
        request = BindRequest.model_validate(job.request)

        async def query(_task_id: str) -> Task:
            current = await self.jobs.get(job.id)
            return await binder.check(current or job, request)

        return query

    def _wait(self, job: Job, age: float, seen: _Seen) -> float:
        """How long to wait before the next status query of `job`."""
        stalled = job.stalled_at is not None
        if seen.video:
            wait = video_poll_wait(
                self._timings(), polls=seen.polls, stalled=stalled, errors=seen.errors
            )
        else:
            wait = next_poll(
                self._timings(),
                self.paces.of(job.model),
                state=job.state,
                age=age,
                polls=seen.polls,
                stalled=stalled,
                errors=seen.errors,
                started=seen.started,
                started_within=seen.started_within,
                oldest=self.paces.oldest_queued(self._clock()),
            )
        if self.health.healthy():
            wait *= WEBHOOK_POLL_FACTOR  # events bring the outcome; polls only back up
        return wait

    def _note_pace(self, job: Job, task: Task, seen: _Seen) -> None:
        """Tell the model's pace how long its character tasks queue and run (videos are
        not counted)."""
        now = self._clock()
        age = now - (job.submitted_at or job.created_at)
        if seen.video:
            return
        pace = self.paces.of(job.model)
        if task.status is TaskStatus.QUEUED:
            self.paces.still_queued(age, now)
            seen.queued_at = age
        if not seen.running and task.status is not TaskStatus.QUEUED:
            seen.running = True
            if job.state is not JobState.IN_PROGRESS:  # not resumed already running
                # It started since it was last seen queued: halfway, give or take half.
                started = (seen.queued_at + age) / 2
                pace.started(started)
                if task.status is TaskStatus.IN_PROGRESS:
                    seen.started, seen.started_within = started, (age - seen.queued_at) / 2
        if task.status is TaskStatus.COMPLETED:
            pace.finished(age, seen.started)

    async def _fail(self, job: Job, code: str, message: str) -> Job:
        """Polling gives up on `job`: it ends FAILED with `message` (unless settled)."""
        changed = await self.jobs.update_status(
            job.id,
            JobState.FAILED,
            job.progress,
            error_code=code,
            error=Text(message),
            owner=self.holder.required,
        )
        return await stored_now(self.jobs, job.id, changed)

    async def record(self, job: Job, task: Task) -> Job:
        """Store what a status answer (or webhook event) says; tell the listener of a change."""
        state = STATE_OF[task.status]
        if state is JobState.COMPLETED and is_bind_request(job.request):
            return await self._finish_binding(job)
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

    async def _finish_binding(self, job: Job) -> Job:
        """A binding that ended with at least one engine ready: store what it made."""
        assert self.binder is not None
        current = await self.jobs.get(job.id) or job
        request = BindRequest.model_validate(current.request)
        changed = await self.binder.finish(current, request, self.holder.required)
        return await stored_now(self.jobs, job.id, changed)

    async def _fetch_avatar(self, job: Job, url: str) -> bytes | None:
        try:
            return await self._download(url, AVATAR_MAX_BYTES)
        except MediaError as exc:
            log.warning("job %d: avatar not fetched (%s: %s)", job.id, exc.kind, exc)
            return None
