"""What fronts do to a job besides submitting it: cancel it, or complete it from a webhook
event. Mixed into `JobTracker`, which owns the state used here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bot.jobs.line import SubmitLine
from bot.providers.base import Task
from bot.records import Job, JobState
from storage import JobRepository

CANCELLED = "Cancelled before it was sent to toapis; nothing was charged."
WEBHOOK_HEALTHY_FOR = 3600.0  # a verified event within this long means webhooks work


class JobControls:
    """Cancelling and webhook completion (see `JobTracker`)."""

    jobs: JobRepository
    webhook_seen_at: float | None
    _clock: Callable[[], float]
    _closing: bool
    _tasks: dict[int, asyncio.Task[None]]

    @property
    def line(self) -> SubmitLine:
        raise NotImplementedError

    def webhooks_healthy(self) -> bool:
        """A verified webhook event arrived within the last hour."""
        seen = self.webhook_seen_at
        return seen is not None and self._clock() - seen < WEBHOOK_HEALTHY_FOR

    async def _announce(self, job: Job) -> None:
        raise NotImplementedError

    async def _record(self, job: Job, task: Task) -> Job:
        raise NotImplementedError

    async def cancel(self, job_id: int) -> Job | None:
        """The member no longer wants this job.

        Not sent yet: it ends failed ("cancelled"), nothing is charged. Sent: toapis has no
        cancel, so it is still followed and a late result is stored, but nobody is told.
        """
        job = await self.jobs.get(job_id)
        if job is None or job.state.is_final:
            return job
        if job.task_id is None and job.state in (JobState.PREPARING, JobState.WAITING):
            self.line.leave(job_id)  # no place in line any more
            following = self._tasks.get(job_id)
            if following is not None and job.state is JobState.WAITING:
                following.cancel()  # asleep until its next attempt: nothing in flight
                with contextlib.suppress(asyncio.CancelledError):
                    await following
            stopped = await self.jobs.cancel_unsent(job_id, CANCELLED)
            if stopped is not None:
                await self._announce(stopped)
                return stopped
        return await self.jobs.mark_cancelled(job_id)

    async def apply_event(self, task: Task) -> Job | None:
        """A webhook said how a task ended: store and announce it now, through the same
        store-once, announce-once path as polling (None: no job follows that task)."""
        self.webhook_seen_at = self._clock()  # webhooks work: polling can slow down
        job = await self.jobs.by_task(task.id)
        if job is None:
            return None
        if job.state.is_final:
            return job  # polling got there first; its task announces it
        if not task.status.is_final:
            return job
        following = self._tasks.get(job.id)
        if following is not None and following is not asyncio.current_task():
            following.cancel()  # no status query after the event
            with contextlib.suppress(asyncio.CancelledError):
                await following
        stored = await self.jobs.get(job.id)
        assert stored is not None
        if not stored.state.is_final:
            stored = await self._record(stored, task)
        await self._announce(stored)
        return stored


__all__ = ["CANCELLED", "JobControls"]
