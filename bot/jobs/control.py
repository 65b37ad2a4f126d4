"""What fronts do to a job besides submitting it: cancel it, or complete it from a webhook
event. Mixed into `JobTracker`, which owns the state used here.

With several processes on one PostgreSQL database a webhook event may reach a process
that does not follow the job. It stores the outcome (store-once) and tells the others
(`JOB_OUTCOME`); the process holding the job announces it at once instead of at its next
poll, through the same announce-once path, so the card comes once and without delay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.domain.changes import JOB_OUTCOME, ChangePublisher
from bot.domain.records import Job, JobState
from bot.jobs.line import SubmitLine
from bot.jobs.timings import TrackerTimings
from bot.providers.base import Task
from bot.providers.interface import CharacterProvider
from bot.stopping import cancel_and_wait
from storage import JobRepository

log = logging.getLogger(__name__)

CANCELLED = "Cancelled before it was sent to toapis; nothing was charged."
WEBHOOK_HEALTHY_FOR = 3600.0  # a verified event within this long means webhooks work


class JobControls:
    """Cancelling and webhook completion (see `JobTracker`)."""

    jobs: JobRepository
    owner: str
    provider: CharacterProvider
    webhook_seen_at: float | None
    webhook_missed_at: float | None = None  # a task ended with no event (polls found it)
    changes: ChangePublisher | None = None  # the other processes (PostgreSQL), if any
    _clock: Callable[[], float]
    _closing: bool
    _tasks: dict[int, asyncio.Task[None]]
    _told: set[asyncio.Task[None]]

    @property
    def timings(self) -> TrackerTimings:
        raise NotImplementedError

    @property
    def line(self) -> SubmitLine:
        raise NotImplementedError

    def webhooks_healthy(self) -> bool:
        """Events bring the outcomes, so polls can be rarer: a verified event arrived within
        the last hour and none went missing since, or, before the first event, the create
        requests carry a callback URL (toapis accepted it) and no task ended without its
        event within the last hour."""
        now = self._clock()
        seen, missed = self.webhook_seen_at, self.webhook_missed_at
        if seen is not None and now - seen < WEBHOOK_HEALTHY_FOR:
            return missed is None or seen >= missed
        if not getattr(self.provider, "callback_url", None):
            return False
        return missed is None or now - missed >= WEBHOOK_HEALTHY_FOR

    def ended_without_event(self, job: Job) -> None:
        """A status query found the task ended before its webhook event came: while
        events go missing, polls keep their usual pace (an event arriving brings it back)."""
        if not self.webhooks_healthy():
            return
        self.webhook_missed_at = self._clock()
        log.warning(
            "job %d: toapis ended the task but its webhook event has not arrived; polling "
            "at the usual pace until events arrive (check TOAPIS_CALLBACK_URL reaches the bot)",
            job.id,
        )

    def event_not_applied(self) -> None:
        """A webhook event could not be applied: polls keep their usual pace until one is."""
        self.webhook_missed_at = self._clock()

    async def _announce(self, job: Job) -> bool:
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
                # asleep until its next attempt: nothing in flight
                await cancel_and_wait(following)
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
            await cancel_and_wait(following)  # no status query after the event
        stored = await self.jobs.get(job.id)
        assert stored is not None
        if not stored.state.is_final:
            stored = await self._record(stored, task)
        if not await self._announce(stored):
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
        if job_id not in self._tasks or self._closing:
            return
        task = asyncio.get_running_loop().create_task(self._announce_stored(job_id))
        self._told.add(task)
        task.add_done_callback(self._told.discard)

    async def _announce_stored(self, job_id: int) -> None:
        try:
            job = await self.jobs.get(job_id)
            if job is None or not job.state.is_final:
                return
            await self._announce(job)  # one at a time with the follower's own announce
            following = self._tasks.get(job_id)
            await cancel_and_wait(following)  # announced: no status query any more
            await self.jobs.release(self.owner, job_id)
        except Exception:
            log.exception("job %d: announcing an outcome stored elsewhere failed", job_id)


__all__ = ["CANCELLED", "JobControls"]
