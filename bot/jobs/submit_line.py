"""The submit line: jobs wait here, in a fair order, for the account's submit budget.

The line is persistent by construction: a job waiting to be sent is a WAITING row, and
its place comes from its id (the order members asked in), so a restart rebuilds the same
line from storage. The order is round-robin across servers, then across members within
a server, so one server (or one member) flooding cannot starve the others. Jobs still
preparing their video are in the line too (they are counted ahead of later jobs) but are
skipped until they are ready.

When toapis refuses the account itself (402 balance empty, 401 key refused) the line is
held: nothing is sent, every job keeps its place, members are told why, and one job is
tried again after a slow backoff. While held on a 402 the balance is read every
`credit_check` seconds: once it shows credit, that job is tried at once instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.records import Job
from bot.i18n import N_
from bot.i18n.text import Text
from bot.net.rate_budget import Budget, Slot
from bot.stopping import cancel_and_wait

log = logging.getLogger(__name__)

PAYMENT = "PaymentRequiredError"
HOLD_NOTES = {
    PAYMENT: N_("waiting: the bot's toapis account needs a top-up"),
    "AuthenticationError": N_("waiting: the bot's toapis key was refused; the owner has been told"),
}


@dataclass(frozen=True, slots=True)
class Place:
    """What a member is told: their place (1 = next), a rough wait, and why it is held."""

    number: int
    eta: float
    note: Text | None = None


# Told to the front for each job whose place changed.
PlaceWatcher = Callable[[Job, Place], Awaitable[None] | None]
# The account's credit now (0 when none, math.inf when unlimited); may raise.
CreditReader = Callable[[], Awaitable[float]]


@dataclass(eq=False, slots=True)
class _Entry:
    job: Job
    ready: bool
    turn: asyncio.Future[Slot] | None = None
    told: Place | None = None
    watcher: PlaceWatcher | None = None


def fair_order(jobs: list[Job]) -> list[Job]:
    """Round-robin across servers (in order of their earliest job in line), and within a
    server across members (likewise); each member's own jobs stay in the order they asked.

    Jobs whose request is in flight stay in the order until they leave the line, so a
    burst of turns goes one per server and member, not to the oldest backlog.
    """
    servers: dict[int, dict[int | None, list[Job]]] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        servers.setdefault(job.guild_id, {}).setdefault(job.requester_id, []).append(job)
    per_server = [_interleave(list(members.values())) for members in servers.values()]
    return _interleave(per_server)


def _interleave(lists: list[list[Job]]) -> list[Job]:
    return [job for group in itertools.zip_longest(*lists) for job in group if job is not None]


class SubmitLine:
    """Grants create requests to waiting jobs, fairly, within the submit budget."""

    def __init__(
        self,
        budget: Budget,
        *,
        notice_interval: float = 3.0,
        hold_retry: float = 180.0,
        hold_max: float = 900.0,
        credit_check: float = 30.0,
    ) -> None:
        self.budget = budget
        self.notice_interval = notice_interval
        self.hold_retry = hold_retry
        self.hold_max = hold_max
        self.credit_check = credit_check
        self.read_credit: CreditReader | None = None  # read while held on a 402
        self.watcher: PlaceWatcher | None = None  # told about jobs without a watcher of their own
        self._entries: dict[int, _Entry] = {}
        self._wake = asyncio.Event()
        self._changed = True
        self._driver: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self.held: str | None = None  # the error that holds the line, if any
        self.paused: str | None = None  # the bot owner's pause message, if paused
        # Told once when the account's refusal first holds the line (the owner is DMed).
        self.on_hold: Callable[[str, int], None] | None = None
        self._holds = 0
        self._held_until = 0.0
        self._probing = False
        self._next_credit_read = 0.0
        self._credit_seen = 0.0  # the credit that already ended this spell of holds once

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def asking(self) -> int:
        """Jobs waiting for their turn now (their create request is ready to go)."""
        return sum(1 for e in self._entries.values() if e.ready and e.turn is not None)

    # --- what is in line ---------------------------------------------------------------------

    def add(self, job: Job, *, ready: bool) -> None:
        """Put a job in line (ready: its create request can be sent)."""
        entry = self._entries.get(job.id)
        if entry is None:
            self._entries[job.id] = _Entry(job, ready)
        else:
            entry.job, entry.ready = job, entry.ready or ready
        self._touch()

    def watch(self, job_id: int, watcher: PlaceWatcher | None) -> None:
        """Tell `watcher` (instead of the line's watcher) about this job's place."""
        entry = self._entries.get(job_id)
        if entry is not None:
            entry.watcher, entry.told = watcher, None
            self._touch()

    def leave(self, job_id: int) -> None:
        """The job was sent, failed or was abandoned."""
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return
        if entry.turn is not None and not entry.turn.done():
            entry.turn.cancel()
        self._touch()

    def places(self) -> dict[int, Place]:
        """Every job's place now."""
        order = fair_order([entry.job for entry in self._entries.values()])
        rate = self.budget.rate.per_second * self.budget.factor(self.budget.now())
        pause = max(0.0, self.budget.paused_until - self.budget.now())
        return {
            job.id: Place(
                n, pause + n / max(rate, 0.01), self.held_note() if self._holding else None
            )
            for n, job in enumerate(order, 1)
        }

    @property
    def _holding(self) -> bool:
        return self.held is not None or self.paused is not None

    def held_note(self) -> Text | None:
        """What members are told while the line is held (the owner's pause, or the account
        refused)."""
        if self.paused is not None:
            return Text("waiting: the bot owner paused new jobs: {reason}", reason=self.paused)
        if self.held is not None and self.held in HOLD_NOTES:
            return Text(HOLD_NOTES[self.held])
        return Text("waiting: toapis refused the bot's account")

    def pause(self, note: str) -> None:
        """The bot owner's pause: nothing is sent; queued jobs keep their places."""
        self.paused = note
        self._changed = True
        self._touch()

    def resume(self) -> None:
        """Lift the owner's pause."""
        self.paused = None
        self._changed = True
        self._touch()

    # --- turns ---------------------------------------------------------------------------

    async def turn(self, job: Job) -> Slot:
        """Wait until it is this job's turn and the budget has room; returns the slot."""
        entry = self._entries.get(job.id)
        if entry is None:
            self.add(job, ready=True)
            entry = self._entries[job.id]
        entry.job, entry.ready = job, True
        granted: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        entry.turn = granted
        self._touch()
        try:
            return await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.budget.give_back(granted.result())
            raise

    def hold(self, reason: str) -> float:
        """The account was refused: stop sending; one job tries again after a backoff."""
        if self.held is not None and not self._probing:
            # Another request of the same window refused too: the backoff stands.
            return max(0.0, self._held_until - self.budget.now())
        first = self.held is None
        self.held = reason
        self._probing = False
        delay = float(min(self.hold_max, self.hold_retry * 2.0 ** min(self._holds, 10)))
        self._holds += 1
        self._held_until = self.budget.now() + delay
        self._next_credit_read = self.budget.now() + self.credit_check
        if first:
            log.error(
                "toapis refused the bot's account (%s): holding %d queued job(s); "
                "trying again in %.0fs",
                reason,
                len(self._entries),
                delay,
            )
            if self.on_hold is not None:
                try:
                    self.on_hold(reason, len(self._entries))
                except Exception:
                    log.exception("telling the owner about the hold failed")
        else:
            log.info("toapis still refuses the account (%s); next try in %.0fs", reason, delay)
        self._touch()
        return delay

    def accepted(self) -> None:
        """A create request was accepted: any hold is over."""
        if self.held is not None:
            log.warning("toapis accepts the bot's account again: sending the queued jobs")
        self.held, self._holds, self._probing = None, 0, False
        self._credit_seen = 0.0
        self._touch()

    def done_probing(self) -> None:
        """The job that tried while the line was held settled without an answer either way."""
        self._probing = False
        self._touch()

    # --- the driver and the notices --------------------------------------------------------

    def _touch(self) -> None:
        self._changed = True
        self._wake.set()
        with contextlib.suppress(RuntimeError):  # no running loop (tests building a line)
            if self._entries and (self._driver is None or self._driver.done()):
                self._driver = asyncio.create_task(self._drive(), name="submit-line")
            if self._entries and (self._notifier is None or self._notifier.done()):
                self._notifier = asyncio.create_task(self._notify(), name="submit-line-notices")

    def _next(self) -> _Entry | None:
        """The first job in fair order (in-flight ones included) whose turn is asked for."""
        if not any(e.ready and e.turn is not None for e in self._entries.values()):
            return None
        for job in fair_order([entry.job for entry in self._entries.values()]):
            entry = self._entries[job.id]
            if entry.ready and entry.turn is not None:
                return entry
        return None

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while self._entries:
            self._wake.clear()
            entry = self._next()
            if entry is None or self._probing or self.paused is not None:
                await self._wake.wait()
                continue
            if self.held is not None:
                now = self.budget.now()
                wait = self._held_until - now
                if wait > 0 and self.read_credit is not None and self.held == PAYMENT:
                    if now >= self._next_credit_read:
                        await self._read_credit()
                        continue
                    wait = min(wait, self._next_credit_read - now)
                if wait > 0:
                    timer = loop.call_later(wait, self._wake.set)
                    try:
                        await self._wake.wait()
                    finally:
                        timer.cancel()
                    continue
                self._probing = True  # one job tries; the others keep waiting
            slot = await self.budget.reserve()
            entry = self._next()
            if entry is None or entry.turn is None:
                self.budget.give_back(slot)
                self._probing = False
                continue
            entry.turn.set_result(slot)
            entry.turn = None
            self._changed = True

    async def _read_credit(self) -> None:
        """While held on a 402: when the balance shows credit (more than the last reading
        that ended a hold, which the next try found refused still), try a job now. A failed
        read changes nothing; the backoff stays the upper bound."""
        assert self.read_credit is not None
        self._next_credit_read = self.budget.now() + self.credit_check
        try:
            credit = await self.read_credit()
        except Exception as exc:
            log.info("reading the toapis balance while held failed (%s); the hold stands", exc)
            return
        if self.held != PAYMENT or credit <= self._credit_seen:
            return
        self._credit_seen = credit
        log.warning("the toapis balance shows credit again: trying a queued job now")
        self._held_until = self.budget.now()

    async def _notify(self) -> None:
        while self._entries:
            if self._changed:
                self._changed = False
                await self._tell_places()
            # A long line moves every reply at once, and Discord edits are budgeted anyway:
            # recompute less often (10 s for 1,000 jobs) rather than render in vain.
            await asyncio.sleep(max(self.notice_interval, len(self._entries) / 100))

    async def _tell_places(self) -> None:
        for job_id, place in self.places().items():
            entry = self._entries.get(job_id)
            if entry is None:
                continue
            shown = Place(place.number, _rough(place.eta), place.note if self._holding else None)
            if shown == entry.told:
                continue
            if entry.told is None and shown.number == 1 and shown.note is None:
                continue  # next in line from the start: nothing worth an edit
            entry.told = shown
            watcher = entry.watcher or self.watcher
            if watcher is None:
                continue
            try:
                result = watcher(entry.job, shown)
                if result is not None:
                    await result
            except Exception:
                log.exception("job %d: telling its place failed", job_id)

    async def close(self) -> None:
        """Stop the driver and the notices (jobs stay WAITING in storage)."""
        tasks, self._driver, self._notifier = (self._driver, self._notifier), None, None
        for task in tasks:
            await cancel_and_wait(task)


def _rough(seconds: float) -> float:
    """A wait rounded so it does not change at every notice: 5 s steps, then minutes."""
    if seconds < 60:
        return float(max(5, math.ceil(seconds / 5) * 5))
    return float(math.ceil(seconds / 60) * 60)
