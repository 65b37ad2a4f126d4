"""Following a sent job: status queries granted by the scheduler until the task ends, each
answer stored (and told) before the next. Mixed into `JobTracker`, which owns the state
used here.
"""

from __future__ import annotations

import logging

from bot.domain.records import Job, JobKind, JobState
from bot.jobs.control import JobControls
from bot.jobs.results import (
    AVATAR_MAX_BYTES,
    store_characters,
    store_failure,
    store_video,
    stored_now,
)
from bot.jobs.scheduler import Pace, PollScheduler, next_poll
from bot.jobs.submission import STATE_OF, retry_after
from bot.jobs.timings import video_poll_wait
from bot.media.assets import AssetDownload
from bot.media.errors import MediaError
from bot.net.rate_budget import prepaid
from bot.providers.base import (
    ProviderError,
    Task,
    TaskNotFoundError,
    TaskStatus,
)

log = logging.getLogger("bot.jobs.tracker")

WEBHOOK_POLL_FACTOR = 6.0  # polls are this much rarer while webhooks arrive


class JobPolling(JobControls):
    """Polling one job to its end (see `JobTracker`)."""

    pace: Pace
    polls: PollScheduler
    _download: AssetDownload

    async def _tell(self, event: str, job: Job) -> None:
        raise NotImplementedError

    @property
    def lease_holder(self) -> str | None:
        """Who must hold a job for this process to change its state: this process on a
        shared database (PostgreSQL); nobody on SQLite (one process owns every job)."""
        return self.owner if self.jobs.shared else None

    def followed_elsewhere(self, job: Job) -> bool:
        """Another process holds this job now (a write of ours changed nothing)."""
        return self.jobs.shared and job.owner != self.owner

    async def _poll_until_final(self, job: Job) -> Job:
        task_id = job.task_id
        assert task_id is not None
        errors = polls = 0
        running = False
        started: float | None = None  # age when first seen running (not resumed so)
        video = job.kind is JobKind.VIDEO
        timeout = self.timings.video_timeout if video else self.timings.timeout
        query = self.provider.get_video_task if video else self.provider.get_task
        hold = 0.0  # toapis' Retry-After of the last status query
        while True:
            age = self._clock() - (job.submitted_at or job.created_at)
            if age > self.timings.max_age:
                changed = await self.jobs.update_status(
                    job.id,
                    JobState.FAILED,
                    job.progress,
                    error_code="gave_up",
                    error_message="The service did not finish within 24 hours; giving up.",
                    owner=self.lease_holder,
                )
                return await stored_now(self.jobs, job.id, changed)
            if job.stalled_at is None and age > timeout:
                job = await self.jobs.mark_stalled(job.id)
                await self._tell("job_stalled", job)
            stalled = job.stalled_at is not None
            if video:
                wait = video_poll_wait(self.timings, polls=polls, stalled=stalled, errors=errors)
            else:
                wait = next_poll(
                    self.timings,
                    self.pace,
                    state=job.state,
                    age=age,
                    polls=polls,
                    stalled=stalled,
                    errors=errors,
                    started=started,
                    oldest=self.pace.oldest_queued(self._clock()),
                )
            if self.webhooks_healthy():
                wait *= WEBHOOK_POLL_FACTOR  # events bring the outcome; polls only back up
            slot = await self.polls.turn(max(wait, hold))  # sleeps until granted
            hold = 0.0
            polls += 1
            try:
                with prepaid(slot):
                    task = await query(task_id)
            except TaskNotFoundError:
                errors += 1
                if age > self.timings.not_found_grace:
                    changed = await self.jobs.update_status(
                        job.id,
                        JobState.FAILED,
                        job.progress,
                        error_code="not_found",
                        error_message="The service no longer knows this task.",
                        owner=self.lease_holder,
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
            job = await self._record(job, task)
            if job.state.is_final:
                if task.status.is_final:  # not an outcome stored elsewhere meanwhile
                    self.ended_without_event(job)
                return job
            if self.followed_elsewhere(job):
                return job  # its new holder follows it

    async def _record(self, job: Job, task: Task) -> Job:
        state = STATE_OF[task.status]
        if state is JobState.COMPLETED and job.kind is JobKind.VIDEO:
            return await store_video(self.jobs, job, task)
        if state is JobState.COMPLETED:
            return await store_characters(self.jobs, job, task, self._fetch_avatar)
        if state is JobState.FAILED:
            return await store_failure(self.jobs, job, task)
        if state != job.state or task.progress != job.progress:
            changed = await self.jobs.update_status(
                job.id, state, task.progress, owner=self.lease_holder
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
