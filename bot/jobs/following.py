"""Following jobs: one asyncio task per job held here, from its preparation to its
announcement; a task that ends with work left is picked up again by the sweeper. Jobs are
held by lease: this process takes the jobs nobody holds, renews its leases while it
follows them and takes over those whose lease ran out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial

from bot.domain.records import Job, JobState
from bot.jobs.again import Preparer, prepare_again
from bot.jobs.announce import Announcer
from bot.jobs.dispatch import Dispatcher
from bot.jobs.polling import Poller
from bot.jobs.sweeper import Sweeper
from bot.jobs.timings import TrackerTimings
from bot.jobs.unknown import find_unknown
from bot.stopping import wait_until_done
from storage import JobRepository

log = logging.getLogger(__name__)


class Followers:
    """The jobs this process holds: their leases, the task following each, and the steps
    each takes (prepare again, send in turn, poll until final, announce)."""

    def __init__(
        self,
        jobs: JobRepository,
        *,
        owner: str,
        dispatch: Dispatcher,
        poller: Poller,
        announcer: Announcer,
        timings: Callable[[], TrackerTimings],
        clock: Callable[[], float],
    ) -> None:
        self.jobs = jobs
        self.owner = owner
        self.dispatch = dispatch
        self.poller = poller
        self.announcer = announcer
        self._timings = timings
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self.closing = False
        # Without one, jobs left preparing by a process that is gone fail with a reason.
        self.preparer: Preparer | None = None
        self.sweeper = Sweeper(
            active=self.claim,
            running=self.__contains__,
            spawn=self.spawn,
            timings=timings,
            clock=clock,
        )

    async def claim(self) -> list[Job]:
        """Take the jobs nobody holds (or whose lease ran out); the jobs held now. Jobs
        left preparing are adopted first, before `claim` fails those it cannot adopt."""
        adopted = await self._adopt_preparing()
        held = await self.jobs.claim(self.owner, self._timings().lease)
        settled = []
        for job in held:
            if job.state is JobState.UNKNOWN and job.announced_at is None:
                job = await find_unknown(self.dispatch.provider, self.jobs, job)
            if job.state is JobState.UNKNOWN and job.announced_at is None:
                log.warning("job %d was interrupted while submitting: state unknown", job.id)
            settled.append(job)
        return sorted([*adopted, *settled], key=lambda job: job.id)

    async def _adopt_preparing(self) -> list[Job]:
        """Take the jobs left preparing by a process that is gone, to prepare them again."""
        if self.preparer is None:
            return []
        adopted = await self.jobs.adopt_preparing(self.owner, self._timings().lease)
        for job in adopted:
            self.sweeper.finished(job.id)  # adopted again after a crash: no wait left
            log.warning(
                "job %d: its video was being prepared elsewhere; preparing it again", job.id
            )
        return adopted

    async def tend(self) -> None:
        """Every third of a lease (or sweep interval, if shorter): renew the leases held,
        stop following jobs another process took over, then take over orphaned jobs and
        follow again jobs left without a task (the sweeper)."""
        while True:
            t = self._timings()
            await asyncio.sleep(min(t.sweep_interval, t.lease / 3))
            try:
                await self.renew()
                await self.sweeper.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing leases or sweeping for jobs left without a task failed")
            self.sweeper.rounds += 1

    async def renew(self) -> set[int]:
        """Extend this process's leases; a job it lost (taken over after its lease ran
        out, e.g. while this process was stalled) is no longer followed here."""
        held = await self.jobs.renew(self.owner, self._timings().lease)
        for job_id, task in self.tasks():
            if job_id not in held and not task.done():
                log.warning("job %d: its lease was taken over; no longer followed here", job_id)
                task.cancel()
        return held

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def get(self, job_id: int) -> asyncio.Task[None] | None:
        """The task following `job_id` here, if any."""
        return self._tasks.get(job_id)

    def tasks(self) -> list[tuple[int, asyncio.Task[None]]]:
        """Every job followed here, with its task."""
        return list(self._tasks.items())

    def spawn(self, job: Job) -> None:
        """Follow `job` in its own task (unless it is followed already or we are closing)."""
        if job.id in self._tasks or self.closing:
            return
        task = asyncio.create_task(self._follow(job), name=f"job-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(partial(self._forget, job.id))

    def _forget(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(job_id, None)

    async def stop(self) -> None:
        """Cancel every job task and wait until each has ended."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            await wait_until_done(task)
        self._tasks.clear()

    async def _follow(self, job: Job) -> None:
        try:
            if job.state is JobState.PREPARING:
                job = await self._prepare_again(job)
                if job.state is JobState.PREPARING:
                    return  # it is gone (deleted meanwhile)
            if job.state is JobState.WAITING:
                job = await self.dispatch.send_in_turn(job)
                if job.state is JobState.WAITING:
                    return  # shutting down
            if not job.state.is_final:
                job = await self.poller.until_final(job)
                if not job.state.is_final:
                    return  # another process holds it now and follows it
            await self.announce(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = self.sweeper.crashed(job.id)
            log.exception("job %d: tracker error; it is picked up again in %.0fs", job.id, delay)
        else:
            self.sweeper.finished(job.id)
            if job.state.is_final:
                with contextlib.suppress(Exception):  # it expires anyway
                    await self.jobs.release(self.owner, job.id)

    async def _prepare_again(self, job: Job) -> Job:
        """An adopted job left preparing: prepare it again, or end it with the reason."""
        assert self.preparer is not None
        line = self.dispatch.line
        settled = await prepare_again(job, self.preparer, self.jobs, line, self.owner)
        if settled is not None and settled.state is JobState.WAITING:
            await self.announcer.tell("job_changed", settled)  # no longer "preparing"
        return settled or job

    async def announce(self, job: Job) -> bool:
        """Announce a final job once; False: another process holds it and announces it."""
        # Only the job's owner announces (a webhook may reach any process): taking the
        # lease is atomic, so of two processes at most one goes on to the announce-once
        # record.
        lease = self._timings().lease
        if self.jobs.shared and not await self.jobs.take(job.id, self.owner, lease):
            log.info("job %d: another process holds it and announces it", job.id)
            return False
        await self.announcer.announce(job)
        return True
