"""The job tracker: one asyncio task per job, every change stored before anyone is told.

Flow of a job: row written (SUBMITTING) -> create request -> task id stored -> polled
until completed or failed -> characters stored exactly once (one transaction, unique
key) -> each character announced and the announcement recorded. A restart resumes
every unfinished job and announces only what was not announced yet. A process that died
while submitting leaves the job UNKNOWN: it is never resubmitted silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from typing import Any

from bot.domain.records import Job, JobState, LimitHit, NewJob, Quota
from bot.jobs.again import Preparer, prepare_again
from bot.jobs.announce import Announcer
from bot.jobs.dispatch import Admit, Dispatcher
from bot.jobs.events import JobListener, ListenerHub, NullListener
from bot.jobs.line import SubmitLine
from bot.jobs.polling import JobPolling
from bot.jobs.scheduler import Pace, PollScheduler
from bot.jobs.sweeper import Sweeper
from bot.jobs.timings import TrackerTimings
from bot.media.assets import AssetDownload, checked_download
from bot.net.rate_budget import TIERS, AccountBudgets
from bot.providers.base import CharacterRequest
from bot.providers.interface import CharacterProvider
from bot.providers.video import VideoRequest
from bot.stopping import cancel_and_wait, wait_until_done
from storage import CharacterRepository, JobRepository

__all__ = ["JobListener", "JobTracker", "ListenerHub", "NullListener", "TrackerTimings"]

log = logging.getLogger(__name__)


def process_owner() -> str:
    """A name for this process as a job owner: unique even if a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class JobTracker(JobPolling):
    """Submits jobs and follows each with its own asyncio task."""

    def __init__(
        self,
        provider: CharacterProvider,
        jobs: JobRepository,
        characters: CharacterRepository,
        listener: JobListener | None = None,
        *,
        timings: TrackerTimings | None = None,
        clock: Callable[[], float] = time.time,
        download: AssetDownload | None = None,
        budgets: AccountBudgets | None = None,
        owner: str | None = None,
    ) -> None:
        self.provider = provider
        # Jobs are owned by lease: this process follows only the jobs it holds, renews
        # its leases while it follows them and takes over those whose lease ran out.
        self.owner = owner or process_owner()
        self.jobs = jobs
        self.characters = characters
        self._announcer = Announcer(
            jobs, characters, listener or NullListener(), timings or TrackerTimings()
        )
        self._clock = clock
        # Avatars are read like member links: no private addresses unless allowed.
        self._download = download or checked_download(allow_private=False)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._told: set[asyncio.Task[None]] = set()  # announcing outcomes stored elsewhere
        self._closing = False
        self._sweeper = Sweeper(
            active=self._claim,
            running=lambda job_id: job_id in self._tasks,
            spawn=self._spawn,
            timings=lambda: self.timings,
            clock=clock,
        )
        self._sweeping: asyncio.Task[None] | None = None
        self._stop_deadline: float | None = None
        self.webhook_seen_at: float | None = None  # the last verified webhook event
        # Without one, jobs left preparing by a process that is gone fail with a reason.
        self.preparer: Preparer | None = None
        # One scheduler over every job: the submit line and the polls share the account's
        # budgets (the provider's, when it is a budgeted client).
        self.budgets = budgets or getattr(provider, "budgets", None)
        if self.budgets is None:
            self.budgets = AccountBudgets.create(TIERS["default"])
        self._dispatch = Dispatcher(
            provider,
            jobs,
            self.budgets.submit,
            timings=lambda: self.timings,
            clock=clock,
            tell=self._tell,
            owner=self.lease_holder,
        )
        self._dispatch.line.watcher = self._announcer.tell_place
        self.polls = PollScheduler(self.budgets.query)
        self.pace = Pace(self.timings)

    def admit_with(self, admit: Admit) -> None:
        """Ask `admit` before each job is sent whether it still may be (spending limits)."""
        self._dispatch.admit = admit

    @property
    def line(self) -> SubmitLine:
        """Jobs waiting to be sent (and those preparing their video), in fair order."""
        return self._dispatch.line

    @property
    def listener(self) -> JobListener:
        """Who hears about jobs."""
        return self._announcer.listener

    @listener.setter
    def listener(self, listener: JobListener) -> None:
        self._announcer.listener = listener

    @property
    def timings(self) -> TrackerTimings:
        """How often and how long jobs are polled, retried and announced."""
        return self._announcer.timings

    @timings.setter
    def timings(self, timings: TrackerTimings) -> None:
        self._announcer.timings = timings

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> list[Job]:
        """Resume every unfinished job nobody else holds; returns the jobs it picked up.

        On a shared (PostgreSQL) database, jobs another live process holds stay with it;
        those whose lease runs out later are taken over by the lease loop.
        """
        if not self.jobs.shared:
            await self.jobs.forget_owners()  # one process per SQLite file: all are ours
        resumed = await self._claim()
        for job in resumed:  # the whole line first, so the first turn goes to the first job
            if job.state in (JobState.WAITING, JobState.PREPARING):
                self.line.add(job, ready=job.state is JobState.WAITING)
        for job in resumed:
            self._spawn(job)
        if resumed:
            log.info("resumed %d job(s)", len(resumed))
        if self._sweeping is None and not self._closing:
            self._sweeping = asyncio.create_task(self._tend(), name="job-leases")
        return resumed

    async def _claim(self) -> list[Job]:
        """Take the jobs nobody holds (or whose lease ran out); the jobs held now. Jobs
        left preparing are adopted first, before `claim` fails those it cannot adopt."""
        adopted = await self._adopt_preparing()
        held = await self.jobs.claim(self.owner, self.timings.lease)
        for job in held:
            if job.state is JobState.UNKNOWN and job.announced_at is None:
                log.warning("job %d was interrupted while submitting: state unknown", job.id)
        return sorted([*adopted, *held], key=lambda job: job.id)

    async def _adopt_preparing(self) -> list[Job]:
        """Take the jobs left preparing by a process that is gone, to prepare them again."""
        if self.preparer is None:
            return []
        adopted = await self.jobs.adopt_preparing(self.owner, self.timings.lease)
        for job in adopted:
            self._sweeper.finished(job.id)  # adopted again after a crash: no wait left
            log.warning(
                "job %d: its video was being prepared elsewhere; preparing it again", job.id
            )
        return adopted

    async def _tend(self) -> None:
        """Every third of a lease (or sweep interval, if shorter): renew the leases held,
        stop following jobs another process took over, then take over orphaned jobs and
        follow again jobs left without a task (the sweeper)."""
        while True:
            t = self.timings
            await asyncio.sleep(min(t.sweep_interval, t.lease / 3))
            try:
                await self.renew_leases()
                await self._sweeper.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing leases or sweeping for jobs left without a task failed")
            self._sweeper.rounds += 1

    async def renew_leases(self) -> set[int]:
        """Extend this process's leases; a job it lost (taken over after its lease ran
        out, e.g. while this process was stalled) is no longer followed here."""
        held = await self.jobs.renew(self.owner, self.timings.lease)
        for job_id, task in list(self._tasks.items()):
            if job_id not in held and not task.done():
                log.warning("job %d: its lease was taken over; no longer followed here", job_id)
                task.cancel()
        return held

    def begin_stop(self) -> None:
        """Accept no new submissions; create requests in flight get `stop_grace` from now."""
        if self._stop_deadline is None:
            self._closing = True
            self._dispatch.closing = True
            self._stop_deadline = asyncio.get_running_loop().time() + self.timings.stop_grace

    async def stop(self) -> None:
        """Let create requests in flight finish (bounded), then cancel every job task.

        A task id that arrives within the grace period is stored, so the job is followed
        to its card after the restart instead of ending UNKNOWN. Every other job's state
        is in storage already; `start` resumes them.
        """
        self.begin_stop()
        sweeping, self._sweeping = self._sweeping, None
        await cancel_and_wait(sweeping)
        assert self._stop_deadline is not None
        await self._dispatch.let_sends_finish(self._stop_deadline)
        await self.line.close()
        await self.polls.close()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            await wait_until_done(task)
        self._tasks.clear()
        try:  # another process may take these jobs over at once
            await self.jobs.release(self.owner)
        except Exception:
            log.warning("leases not released; they expire in %.0fs", self.timings.lease)

    @property
    def running(self) -> int:
        """How many jobs are being followed right now."""
        return len(self._tasks)

    @property
    def sweeps(self) -> int:
        """How many sweeps for jobs left without a task have completed."""
        return self._sweeper.rounds

    async def wait(self, job_id: int) -> Job | None:
        """Wait until the job's task ends (if any) and return the stored job."""
        task = self._tasks.get(job_id)
        if task is not None:
            await wait_until_done(task)
        return await self.jobs.get(job_id)

    # --- submission -----------------------------------------------------------------------

    async def submit(self, new: NewJob, request: CharacterRequest | VideoRequest) -> Job:
        """Store the job, send the create request, store the task id, start following.

        Provider errors do not raise: the job ends FAILED (or UNKNOWN when the request
        may have reached the service) and the listener is told.
        """
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        job = await self.jobs.create(
            replace(new, request=request.model_dump(exclude_none=True)),
            state=JobState.WAITING,
            owner=self.owner,
            lease_seconds=self.timings.lease,
        )
        self.line.add(job, ready=True)
        sent = self._dispatch.first_outcome(job.id)
        self._spawn(job)
        return await asyncio.shield(sent)

    async def reserve(
        self, new: NewJob, quota: Quota | None, *, replaces: tuple[int, str] | None = None
    ) -> Job | LimitHit:
        """Store a job whose video is about to be prepared, within `quota` (counted and
        written in one step), or the limit it would pass (nothing stored). It goes on with
        `submit_prepared` or ends with `abandon`; if this process dies in between, it is
        prepared again (`bot.jobs.again`) or fails with a reason, nothing sent or charged.
        `replaces`: the UNKNOWN job it sends again (Retry), and the note that one ends with.
        """
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        job = await self.jobs.reserve(
            new,
            quota,
            owner=self.owner,
            lease_seconds=self.timings.lease,
            replaces=replaces,
        )
        if not isinstance(job, LimitHit):
            self.line.add(job, ready=False)  # counted in line while its video is prepared
        return job

    async def submit_prepared(
        self,
        job: Job,
        request: CharacterRequest | VideoRequest,
        meta: dict[str, Any],
        message: tuple[int, int] | None = None,
    ) -> Job:
        """Put a prepared job in the submit line and follow it (returns at once, WAITING).

        `message` is the (channel id, message id) of the reply that shows the job.
        """
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        ready = await self.jobs.set_prepared(
            job.id, request.model_dump(exclude_none=True), meta, message
        )
        if ready is None:  # no longer preparing: someone else decided its fate
            self.line.leave(job.id)
            stored = await self.jobs.get(job.id)
            assert stored is not None
            return stored
        self.line.add(ready, ready=True)
        self.line.watch(ready.id, None)  # places now go to the listener
        self._spawn(ready)
        return ready

    @contextlib.asynccontextmanager
    async def abandoned_on_error(self, job_id: int) -> AsyncIterator[None]:
        """Around a front's steps between `reserve` and `submit_prepared`: an error there
        (Discord refusing the reply, say) drops the job, which would else count forever."""
        try:
            yield
        except Exception:
            await self.abandon(job_id)
            raise

    async def abandon(self, job_id: int) -> None:
        """Forget a job still preparing that will not be sent (the member was told why)."""
        self.line.leave(job_id)
        await self.jobs.discard_preparing(job_id)

    # --- following ------------------------------------------------------------------------

    def _spawn(self, job: Job) -> None:
        if job.id in self._tasks or self._closing:
            return
        task = asyncio.create_task(self._follow(job), name=f"job-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(partial(self._forget, job.id))

    def _forget(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(job_id, None)

    async def _follow(self, job: Job) -> None:
        try:
            if job.state is JobState.PREPARING:
                job = await self._prepare_again(job)
                if job.state is JobState.PREPARING:
                    return  # it is gone (deleted meanwhile)
            if job.state is JobState.WAITING:
                job = await self._dispatch.send_in_turn(job)
                if job.state is JobState.WAITING:
                    return  # shutting down
            if not job.state.is_final:
                job = await self._poll_until_final(job)
                if not job.state.is_final:
                    return  # another process holds it now and follows it
            await self._announce(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = self._sweeper.crashed(job.id)
            log.exception("job %d: tracker error; it is picked up again in %.0fs", job.id, delay)
        else:
            self._sweeper.finished(job.id)
            if job.state.is_final:
                with contextlib.suppress(Exception):  # it expires anyway
                    await self.jobs.release(self.owner, job.id)

    async def _prepare_again(self, job: Job) -> Job:
        """An adopted job left preparing: prepare it again, or end it with the reason."""
        assert self.preparer is not None
        settled = await prepare_again(job, self.preparer, self.jobs, self.line, self.owner)
        if settled is not None and settled.state is JobState.WAITING:
            await self._tell("job_changed", settled)  # no longer "preparing" on its reply
        return settled or job

    async def _announce(self, job: Job) -> bool:
        # Only the job's owner announces (a webhook may reach any process): taking the
        # lease is atomic, so of two processes at most one goes on to the announce-once
        # record. False: another process holds the job and announces it.
        if self.jobs.shared and not await self.jobs.take(job.id, self.owner, self.timings.lease):
            log.info("job %d: another process holds it and announces it", job.id)
            return False
        await self._announcer.announce(job)
        return True

    async def _tell(self, event: str, job: Job) -> None:
        await self._announcer.tell(event, job)
