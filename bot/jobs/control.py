"""What fronts do to a job besides submitting it: cancel it, or complete it from a webhook
event; and whether webhook events arrive (polls are rarer while they do).

With several processes on one PostgreSQL database a webhook event may reach a process
that does not follow the job. It stores the outcome (store-once) and tells the others
(`JOB_OUTCOME`); the process holding the job announces it at once instead of at its next
poll, through the same announce-once path, so the card comes once and without delay.
"""

from __future__ import annotations

import asyncio
import logging

from bot.domain.changes import JOB_OUTCOME, ChangePublisher
from bot.domain.records import Job, JobState
from bot.jobs.following import Followers
from bot.jobs.polling import Poller
from bot.jobs.submit_line import SubmitLine
from bot.jobs.webhook_health import WebhookHealth
from bot.providers.base import Task
from bot.stopping import cancel_and_wait
from storage import JobRepository

log = logging.getLogger(__name__)

CANCELLED = "Cancelled before it was sent to toapis; nothing was charged."


class JobControls:
    """Cancelling and webhook completion of the jobs `followers` follow."""

    def __init__(
        self,
        jobs: JobRepository,
        *,
        owner: str,
        line: SubmitLine,
        followers: Followers,
        poller: Poller,
        health: WebhookHealth,
    ) -> None:
        self.jobs = jobs
        self.owner = owner
        self.line = line
        self.followers = followers
        self.poller = poller
        self.health = health
        self.changes: ChangePublisher | None = None  # the other processes (PostgreSQL), if any
        self._told: set[asyncio.Task[None]] = set()  # announcing outcomes stored elsewhere

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
            following = self.followers.get(job_id)
            if following is not None and job.state is JobState.WAITING:
                # asleep until its next attempt: nothing in flight
                await cancel_and_wait(following)
            stopped = await self.jobs.cancel_unsent(job_id, CANCELLED)
            if stopped is not None:
                await self.followers.announce(stopped)
                return stopped
        return await self.jobs.mark_cancelled(job_id)

    async def apply_event(self, task: Task) -> Job | None:
        """A webhook said how a task ended: store and announce it now, through the same
        store-once, announce-once path as polling (None: no job follows that task)."""
        self.health.event_seen()
        job = await self.jobs.by_task(task.id)
        if job is None:
            return None
        if job.state.is_final:
            return job  # polling got there first; its task announces it
        if not task.status.is_final:
            return job
        following = self.followers.get(job.id)
        if following is not None and following is not asyncio.current_task():
            await cancel_and_wait(following)  # no status query after the event
        stored = await self.jobs.get(job.id)
        assert stored is not None
        if not stored.state.is_final:
            stored = await self.poller.record(stored, task)
        if not await self.followers.announce(stored):
            await self._tell_holder(stored)  # another process follows it: it announces
        return stored

    async def _tell_holder(self, job: Job) -> None:
        """Tell the process holding `job` that its outcome is stored (its next poll would
        find it anyway, so a failure here only delays the card)."""
        if self.changes is None:
            return
        try:
            await self.changes.publish(JOB_OUTCOME, str(job.id))
        except Exception:
            log.warning("job %d: could not tell its process; its next poll finds it", job.id)

    def outcome_stored(self, job_id: int) -> None:
        """Another process stored the outcome of `job_id` (a webhook reached it): if this
        process follows that job, announce it now (in the background)."""
        if job_id not in self.followers or self.followers.closing:
            return
        task = asyncio.get_running_loop().create_task(self._announce_stored(job_id))
        self._told.add(task)
        task.add_done_callback(self._told.discard)

    async def _announce_stored(self, job_id: int) -> None:
        try:
            job = await self.jobs.get(job_id)
            if job is None or not job.state.is_final:
                return
            await self.followers.announce(job)  # one at a time with the follower's own
            following = self.followers.get(job_id)
            await cancel_and_wait(following)  # announced: no status query any more
            await self.jobs.release(self.owner, job_id)
        except Exception:
            log.exception("job %d: announcing an outcome stored elsewhere failed", job_id)


__all__ = ["CANCELLED", "JobControls"]
