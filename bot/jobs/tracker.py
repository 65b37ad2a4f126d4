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
from typing import Any

from bot.domain.changes import ChangePublisher
from bot.domain.records import Job, JobState, LimitHit, NewJob, Quota
from bot.jobs.again import Preparer
from bot.jobs.announce import Announcer
from bot.jobs.binder import Binder
from bot.jobs.control import JobControls
from bot.jobs.dispatch import Admit, Dispatcher
from bot.jobs.events import JobListener, ListenerHub, NullListener
from bot.jobs.following import Followers
from bot.jobs.pace import Paces
from bot.jobs.polling import Holder, Poller
from bot.jobs.scheduler import PollScheduler
from bot.jobs.submission import Sendable
from bot.jobs.submit_line import SubmitLine
from bot.jobs.timings import TrackerTimings
from bot.jobs.webhook_health import WebhookHealth
from bot.media.assets import AssetDownload, checked_download
from bot.net.rate_budget import TIERS, AccountBudgets
from bot.providers.base import Task
from bot.providers.interface import CharacterProvider
from bot.stopping import cancel_and_wait, wait_until_done
from storage import CharacterRepository, JobRepository

__all__ = ["JobListener", "JobTracker", "ListenerHub", "NullListener", "TrackerTimings"]

log = logging.getLogger(__name__)


def process_owner() -> str:
    """A name for this process as a job owner: unique even if a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class JobTracker:
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
        self._closing = False
        self._sweeping: asyncio.Task[None] | None = None
        self._stop_deadline: float | None = None
        # One scheduler over every job: the submit line and the polls share the account's
        # budgets (the provider's, when it is a budgeted client).
        self.budgets = budgets or getattr(provider, "budgets", None)
        if self.budgets is None:
            self.budgets = AccountBudgets.create(TIERS["default"])
        holder = Holder(jobs, self.owner)
        self._dispatch = Dispatcher(
            provider,
            jobs,
            self.budgets.submit,
            timings=lambda: self.timings,
            clock=clock,
            tell=self._announcer.tell,
            owner=holder.required,
        )
        self._dispatch.line.watcher = self._announcer.tell_place
        self.polls = PollScheduler(self.budgets.query)
        self.paces = Paces(self.timings)
        self._health = WebhookHealth(provider, clock)
        # Avatars are read like member links: no private addresses unless allowed.
        download = download or checked_download(allow_private=False)
        self._poller = self._make_poller(holder, clock, download)
        self._followers = Followers(
            jobs,
            owner=self.owner,
            dispatch=self._dispatch,
            poller=self._poller,
            announcer=self._announcer,
            timings=lambda: self.timings,
            clock=clock,
        )
        self._sweeper = self._followers.sweeper  # its crash records (tests read them)
        self._announcer.after_cards = self._bind_further
        self._controls = JobControls(
            jobs,
            owner=self.owner,
            line=self.line,
            followers=self._followers,
            poller=self._poller,
            health=self._health,
        )

    def _make_poller(
        self, holder: Holder, clock: Callable[[], float], download: AssetDownload
    ) -> Poller:
        """The poller of this tracker's jobs, under its query budget and pace."""
        return Poller(
            self.provider,
            self.jobs,
            holder=holder,
            timings=lambda: self.timings,
            clock=clock,
            paces=self.paces,
            polls=self.polls,
            health=self._health,
            tell=self._announcer.tell,
            download=download,
        )

    @property
    def binder(self) -> Binder | None:
        """What sends and follows binding jobs (a likeness bound to Seedance and Vidu)."""
        return self._dispatch.binder

    @binder.setter
    def binder(self, binder: Binder | None) -> None:
        self._dispatch.binder = binder
        self._poller.binder = binder
        self._announcer.after_failure = binder.give_up if binder is not None else None
        if binder is not None:
            binder.enqueue = self.enqueue
            binder.characters = self.characters

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
        resumed = await self._followers.claim()
        for job in resumed:  # the whole line first, so the first turn goes to the first job
            if job.state in (JobState.WAITING, JobState.PREPARING):
                self.line.add(job, ready=job.state is JobState.WAITING)
        for job in resumed:
            self._followers.spawn(job)
        if resumed:
            log.info("resumed %d job(s)", len(resumed))
        if self._sweeping is None and not self._closing:
            self._sweeping = asyncio.create_task(self._followers.tend(), name="job-leases")
        return resumed

    async def renew_leases(self) -> set[int]:
        """Extend this process's leases; a job it lost (taken over after its lease ran
        out, e.g. while this process was stalled) is no longer followed here."""
        return await self._followers.renew()

    def begin_stop(self) -> None:
        """Accept no new submissions; create requests in flight get `stop_grace` from now."""
        if self._stop_deadline is None:
            self._closing = True
            self._followers.closing = True
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
        await self._followers.stop()
        try:  # another process may take these jobs over at once
            await self.jobs.release(self.owner)
        except Exception:
            log.warning("leases not released; they expire in %.0fs", self.timings.lease)

    @property
    def running(self) -> int:
        """How many jobs are being followed right now."""
        return len(self._followers)

    @property
    def sweeps(self) -> int:
        """How many sweeps for jobs left without a task have completed."""
        return self._sweeper.rounds

    async def wait(self, job_id: int) -> Job | None:
        """Wait until the job's task ends (if any) and return the stored job."""
        task = self._followers.get(job_id)
        if task is not None:
            await wait_until_done(task)
        return await self.jobs.get(job_id)

    # --- submission -----------------------------------------------------------------------

    async def submit(self, new: NewJob, request: Sendable) -> Job:
        """Store the job, send the create request, store the task id, start following.

        Provider errors do not raise: the job ends FAILED (or UNKNOWN when the request
        may have reached the service) and the listener is told.
        """
        job = await self.enqueue(new, request)  # its task has not run yet: no answer is missed
        return await asyncio.shield(self._dispatch.first_outcome(job.id))

    async def enqueue(self, new: NewJob, request: Sendable) -> Job:
        """Store a job and put it in the submit line; it is followed from there (no wait
        for its first answer, unlike `submit`)."""
        if self._closing:
            raise RuntimeError("the tracker is shutting down")
        job = await self.jobs.create(
            replace(new, request=request.model_dump(exclude_none=True)),
            state=JobState.WAITING,
            owner=self.owner,
            lease_seconds=self.timings.lease,
        )
        self.line.add(job, ready=True)
        self._followers.spawn(job)
        return job

    async def _bind_further(self, job: Job) -> None:
        """A character job's cards are out: bind its characters to the other engines (every
        character of the job: a crash may have come between the cards and this)."""
        if self.binder is None or self._closing:
            return
        made = await self.characters.with_bindings(await self.characters.for_job(job.id))
        await self.binder.follow_up(job, made, self.enqueue)

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
        request: Sendable,
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
        self._followers.spawn(ready)
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

    # --- controls -------------------------------------------------------------------------

    @property
    def preparer(self) -> Preparer | None:
        """Prepares again the jobs a process that is gone left preparing (None: they fail
        with a reason)."""
        return self._followers.preparer

    @preparer.setter
    def preparer(self, preparer: Preparer | None) -> None:
        self._followers.preparer = preparer

    @property
    def changes(self) -> ChangePublisher | None:
        """Where outcomes stored here are told to the other processes (PostgreSQL)."""
        return self._controls.changes

    @changes.setter
    def changes(self, changes: ChangePublisher | None) -> None:
        self._controls.changes = changes

    async def cancel(self, job_id: int) -> Job | None:
        """The member no longer wants this job (see `JobControls.cancel`)."""
        return await self._controls.cancel(job_id)

    async def apply_event(self, task: Task) -> Job | None:
        """A webhook said how a task ended: store and announce it now (None: no job)."""
        return await self._controls.apply_event(task)

    def outcome_stored(self, job_id: int) -> None:
        """Another process stored the outcome of `job_id`: announce it now if followed here."""
        self._controls.outcome_stored(job_id)

    def webhooks_healthy(self) -> bool:
        """Webhook events arrive, so polls can be rarer (see `WebhookHealth.healthy`)."""
        return self._health.healthy()

    def event_not_applied(self) -> None:
        """A webhook event could not be applied: polls keep their usual pace until one is."""
        self._health.event_not_applied()
