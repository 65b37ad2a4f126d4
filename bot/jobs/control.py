"""What fronts do to a job besides submitting it: prepare it first, drop it, cancel it, or
complete it from a webhook event. Mixed into `JobTracker`, which owns the state used here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.providers.base import CharacterRequest, Task
from bot.records import Job, JobState, NewJob
from storage import JobRepository

CANCELLED = "Cancelled before it was sent to toapis; nothing was charged."


class JobControls:
    """Preparing, cancelling and webhook completion (see `JobTracker`)."""

    jobs: JobRepository
    _closing: bool
    _tasks: dict[int, asyncio.Task[None]]

    async def _send_once(self, job: Job, request: CharacterRequest, *, attempt: int = 0) -> Job:
        raise NotImplementedError

    def _spawn(self, job: Job) -> None:
        raise NotImplementedError

    async def _announce(self, job: Job) -> None:
        raise NotImplementedError

    async def _record(self, job: Job, task: Task) -> Job:
        raise NotImplementedError

    async def open_preparing(self, new: NewJob) -> Job:
        """Store a job whose video is about to be prepared (nothing is sent yet).

        It goes on with `submit_prepared`, or ends with `abandon`; a restart in between
        fails it with a message (nothing was sent, nothing charged).
        """
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        return await self.jobs.create(new, state=JobState.PREPARING)

    async def submit_prepared(
        self,
        job: Job,
        request: CharacterRequest,
        meta: dict[str, Any],
        message: tuple[int, int] | None = None,
    ) -> Job:
        """Send a prepared job's create request (as `submit` does) and follow it.

        `message` is the (channel id, message id) of the reply that shows the job.
        """
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        ready = await self.jobs.set_prepared(
            job.id, request.model_dump(exclude_none=True), meta, message
        )
        if ready is None:  # no longer preparing: someone else decided its fate
            stored = await self.jobs.get(job.id)
            assert stored is not None
            return stored
        ready = await self._send_once(ready, request)
        self._spawn(ready)
        return ready

    async def abandon(self, job_id: int) -> None:
        """Forget a job still preparing that will not be sent (the member was told why)."""
        await self.jobs.discard_preparing(job_id)

    async def cancel(self, job_id: int) -> Job | None:
        """The member no longer wants this job.

        Not sent yet: it ends failed ("cancelled"), nothing is charged. Sent: toapis has no
        cancel, so it is still followed and a late result is stored, but nobody is told.
        """
        job = await self.jobs.get(job_id)
        if job is None or job.state.is_final:
            return job
        if job.task_id is None and job.state in (JobState.PREPARING, JobState.WAITING):
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
