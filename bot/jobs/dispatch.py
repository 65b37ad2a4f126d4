"""Sending create requests: a job waits for its turn in the submit line, then sends once.

Each job's own task calls `send_in_turn`; the line decides who goes next and hands over
a slot of the submit budget. What came of the request decides what the line does next:
accepted (the hold, if any, is over), refused for the account (the line is held, the job
keeps its place), busy (the whole budget slows; the job keeps its place), or failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.domain.records import Job, JobState
from bot.i18n.text import Text
from bot.jobs.binder import Binder
from bot.jobs.events import Tell
from bot.jobs.submission import Sendable, request_of, send_and_record
from bot.jobs.submit_line import HOLD_NOTES, SubmitLine
from bot.jobs.timings import TrackerTimings
from bot.net.rate_budget import Budget, prepaid
from bot.providers.interface import CharacterProvider
from storage import JobRepository

log = logging.getLogger(__name__)

# Asked when a job's turn has come, just before it is sent: None to send it, else why it
# may not be sent any more (the owner's daily cap was reached meanwhile).
Admit = Callable[[Job], Awaitable[Text | None]]


class Dispatcher:
    """The create requests of every job: in line, under the submit budget, at most once."""

    def __init__(
        self,
        provider: CharacterProvider,
        jobs: JobRepository,
        budget: Budget,
        *,
        timings: Callable[[], TrackerTimings],
        clock: Callable[[], float],
        tell: Tell,
        owner: str | None = None,
    ) -> None:
        self.provider = provider
        self.owner = owner  # a job must be held by it to be sent (None: any job)
        self.jobs = jobs
        self.budget = budget
        self._timings = timings
        self._clock = clock
        self._tell = tell
        t = timings()
        self.line = SubmitLine(
            budget,
            notice_interval=t.line_notice_interval,
            hold_retry=t.hold_retry,
            hold_max=t.hold_max,
            credit_check=t.credit_check,
        )
        self.line.read_credit = self._credit  # a top-up ends a 402 hold early
        # Does the provider slow the budget itself on a 429 (a budgeted toapis client)?
        self._budgeted = getattr(provider, "budgets", None) is not None
        self.admit: Admit | None = None
        self.binder: Binder | None = None  # sends binding jobs (none: they cannot be sent)
        self.sending: set[asyncio.Future[tuple[Job, bool]]] = set()
        self._first: dict[int, asyncio.Future[Job]] = {}
        self.closing = False

    async def _credit(self) -> float:
        """The account's credit now (read while the line is held on a 402)."""
        return (await self.provider.get_balance()).credits

    def first_outcome(self, job_id: int) -> asyncio.Future[Job]:
        """Resolved with the job as it is after its first create request (for `submit`)."""
        future = self._first.get(job_id)
        if future is None:
            future = self._first[job_id] = asyncio.get_running_loop().create_future()
        return future

    async def send_once(self, job: Job, request: Sendable, *, attempt: int = 0) -> Job:
        """Send the create request of a job in SUBMITTING; record what came of it.

        The request and the recording of its answer run in their own task: a caller
        cancelled meanwhile does not lose the task id, and `stop` waits for it.
        """
        sending = asyncio.ensure_future(
            send_and_record(
                self.provider,
                self.jobs,
                job,
                request,
                attempt,
                self._timings(),
                self._clock,
                self.owner,
                self.binder,
            )
        )
        self.sending.add(sending)
        sending.add_done_callback(self._sent)
        job, changed = await asyncio.shield(sending)
        if changed:
            await self._tell("job_changed", job)
        return job

    def _sent(self, sending: asyncio.Future[tuple[Job, bool]]) -> None:
        self.sending.discard(sending)
        if not sending.cancelled():
            sending.exception()  # retrieved here too, in case its caller was cancelled

    async def send_in_turn(self, job: Job) -> Job:
        """A WAITING job: wait for its turn, send, until it is accepted or over.

        Returns the job still WAITING only when the tracker is shutting down.
        """
        attempt = 0
        try:
            while job.state is JobState.WAITING:
                slot = await self.line.turn(job)
                if self.closing:
                    self.budget.give_back(slot)
                    return job
                try:
                    refusal = await self.admit(job) if self.admit is not None else None
                    claimed = None
                    if refusal is None:
                        claimed = await self.jobs.claim_waiting(job.id, owner=self.owner)
                except BaseException:
                    # The turn is not used: the slot goes back and, if this job was the
                    # one trying while the line was held, another may try.
                    self.budget.give_back(slot)
                    self.line.done_probing()
                    raise
                if refusal is not None:
                    self.budget.give_back(slot)
                    return await self._refuse(job, refusal)
                if claimed is None:  # not waiting, or not ours: someone else decides its fate
                    self.budget.give_back(slot)
                    self.line.done_probing()
                    stored = await self.jobs.get(job.id)
                    assert stored is not None
                    return stored
                request = request_of(claimed)
                with prepaid(slot):
                    job = await self.send_once(claimed, request, attempt=attempt)
                attempt += 1
                self._settle(job)
                first = self._first.pop(job.id, None)
                if first is not None and not first.done():
                    first.set_result(job)
            return job
        finally:
            self.line.leave(job.id)  # a crashed task comes back with the same id and place
            first = self._first.pop(job.id, None)
            if first is not None and not first.done():
                first.set_result(job)

    async def _refuse(self, job: Job, refusal: Text) -> Job:
        """A job at the front that may not be sent: it ends unsent (nothing charged, its
        reservation freed) and the member is told why."""
        self.line.leave(job.id)
        self.line.done_probing()
        refused = await self.jobs.cancel_unsent(job.id, refusal, code="over_cap")
        if refused is None:  # no longer waiting: someone else decided its fate
            stored = await self.jobs.get(job.id)
            assert stored is not None
            return stored
        log.info("job %d refused at the front of the line: %s", job.id, refusal)
        await self._tell("job_changed", refused)
        return refused

    def _settle(self, job: Job) -> None:
        """Let the line know what came of a create request."""
        if job.state is not JobState.WAITING:
            self.line.leave(job.id)
            if job.task_id is not None:
                self.line.accepted()
            else:
                self.line.done_probing()
            return
        if job.error_code in HOLD_NOTES:
            self.line.hold(job.error_code or "")
            return
        if not self._budgeted or job.error_code != "RateLimitedError":
            # Busy or unreachable without a Retry-After the client acted on: the whole
            # budget waits (one line, not one retry per job).
            wait = (job.retry_at or self._clock()) - self._clock()
            self.budget.slow_down(max(0.0, wait), job.error_code or "busy")
        self.line.done_probing()

    async def let_sends_finish(self, deadline: float) -> None:
        """Let create requests in flight finish until `deadline` (loop time), then cancel."""
        sending = set(self.sending)
        if not sending:
            return
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        log.info(
            "stopping: waiting up to %.1fs for %d create request(s) in flight",
            remaining,
            len(sending),
        )
        _done, pending = await asyncio.wait(sending, timeout=remaining)
        if pending:
            log.warning(
                "stopping: %d create request(s) still unanswered; their jobs will be "
                "reported unknown on the next start",
                len(pending),
            )
            for future in pending:
                future.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
