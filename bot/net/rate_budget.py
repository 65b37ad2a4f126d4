"""Shared request budgets: sliding windows over the account's rate limits.

toapis counts every limit as a sliding window ("5 submits in any second, 50 in any
10 s"), and so does the simulator. A leaky bucket (aiolimiter) refills continuously and
lets a full bucket out at once, which can put 50 requests into one second; so this is a
small sliding-window log instead: a budget remembers when each of its recent requests
went out and grants a new one only when every window has room.

A slot is granted first (`reserve`) and stamped when the request really leaves
(`Slot.use`, called by the HTTP client right before sending), so a job that is slow to
get from its grant to the socket never squeezes two windows' worth into one. A 429 or
503 (`slow_down`) pauses the whole budget for its Retry-After and halves its rate, which
comes back linearly: every caller waits in one line instead of retrying on its own.

Several processes sharing one account (one PostgreSQL database) would each keep their own
windows and together go N times over. So a budget may also have a shared ledger
(`storage.postgres.budget_ledger`): the budget still orders its callers and keeps its own windows,
and right before a request leaves (`take`) the ledger must admit it too, under the same
windows counted over every process (with `SHARED_MARGIN` for the hop from the ledger to
the socket). A `slow_down` pauses the ledger too, so every process pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

RETRY_AFTER_CAP = 15 * 60.0
SLOT_HOLD = 5.0  # a granted slot never stamped (or never answered) counts this long after
MARGIN = 0.05  # seconds added to every window (clock jitter)
SHARED_MARGIN = 0.25  # the same for the shared windows (ledger round trip, then socket)
RECOVERY = 30.0  # seconds for a slowed budget to come back to its full rate
REHALVE = 1.0  # 429s within this long of the last halving are one episode (halved once)
MIN_FACTOR = 0.25


@dataclass(frozen=True, slots=True)
class Rate:
    """A limit: `per_second` in any second and `per_ten` in any 10 s."""

    per_second: float
    per_ten: float

    def share(self, fraction: float) -> Rate:
        """This rate scaled (the part of the account the bot may spend)."""
        return Rate(self.per_second * fraction, self.per_ten * fraction)


@dataclass(frozen=True, slots=True)
class Limits:
    """An account's limits for create requests and status queries."""

    submit: Rate
    query: Rate


# Published: default 5/s (50 per 10 s) and 50/s (500 per 10 s). vip and svip publish only
# per-minute figures (1,000/10,000 and 2,000/30,000): spread evenly, bursts ten per 10 s.
TIERS: dict[str, Limits] = {
    "default": Limits(Rate(5, 50), Rate(50, 500)),
    "vip": Limits(Rate(16, 160), Rate(166, 1660)),
    "svip": Limits(Rate(33, 330), Rate(500, 5000)),
}


def tier_limits(
    tier: str, *, submit_per_second: float | None = None, query_per_second: float | None = None
) -> Limits:
    """The tier's limits, with per-second overrides (bursts: ten times per 10 s)."""
    limits = TIERS[tier]
    submit = limits.submit
    query = limits.query
    if submit_per_second is not None:
        submit = Rate(submit_per_second, submit_per_second * 10)
    if query_per_second is not None:
        query = Rate(query_per_second, query_per_second * 10)
    return Limits(submit, query)


class Slot:
    """One request's place in a budget; `use` stamps when it really leaves.

    toapis counts a request when it arrives, which a slow or uneven network makes later
    than it left, but never later than its answer: a slot that is `track`ed counts from
    when its answer arrived (`answer`), and until then as if sent at every moment.
    """

    __slots__ = ("_budget", "_tracked", "answered", "granted", "sent")

    def __init__(self, budget: Budget, now: float) -> None:
        self._budget = budget
        self.granted = now
        self.sent: float | None = None
        self.answered: float | None = None
        self._tracked = False

    def use(self) -> None:
        """The request leaves now (only the first call counts)."""
        if self.sent is None:
            self.sent = self._budget.now()

    def track(self) -> None:
        """Count this slot until its answer arrives, not only from when it left."""
        self._tracked = True

    def answer(self) -> None:
        """The request's answer (or its failure) arrived now."""
        if self._tracked and self.answered is None:
            self.answered = self._budget.now()

    def at(self, now: float) -> float:
        """When this slot counts as sent, seen at `now`."""
        if self.answered is not None:
            return self.answered
        if self.sent is not None:
            return min(now, self.sent + SLOT_HOLD) if self._tracked else self.sent
        return min(now, self.granted + SLOT_HOLD)


class SharedLedger(Protocol):
    """Grants and pauses shared by every process (`storage.postgres.budget_ledger.BudgetLedger`)."""

    async def admit(self, name: str, windows: Sequence[tuple[int, float]]) -> float:
        """Record a grant and return 0, or return the seconds to wait (nothing recorded)."""
        ...

    async def pause(self, name: str, seconds: float) -> None:
        """No grant of `name` in any process for `seconds`."""
        ...


_PREPAID: ContextVar[Slot | None] = ContextVar("prepaid_slot", default=None)


@contextlib.contextmanager
def prepaid(slot: Slot) -> Iterator[None]:
    """Within this block the budget's next `take` uses `slot` instead of waiting."""
    token = _PREPAID.set(slot)
    try:
        yield
    finally:
        _PREPAID.reset(token)
        slot.use()  # a provider that never stamped it: it went out by now at the latest


class Budget:
    """A sliding-window budget shared by every job; `reserve` waits in FIFO order."""

    def __init__(
        self,
        name: str,
        rate: Rate,
        *,
        clock: Callable[[], float] | None = None,
        ledger: SharedLedger | None = None,
    ) -> None:
        self.name = name
        self.rate = rate
        self._clock = clock
        self.ledger = ledger  # shared with other processes; None: this process alone
        self._admitting = asyncio.Lock()  # one caller of this process asks the ledger
        self._ledger_failing = False
        self._sharing: set[asyncio.Task[None]] = set()
        self._slots: deque[Slot] = deque()
        self._waiters: deque[asyncio.Future[Slot]] = deque()
        self._urgent: deque[asyncio.Future[Slot]] = deque()  # served before `_waiters`
        self._timer: asyncio.TimerHandle | None = None
        self.paused_until = 0.0
        self._factor = 1.0
        self._slowed_at = 0.0
        self.granted = 0
        self.slowdowns = 0

    def now(self) -> float:
        """The budget's clock (the event loop's by default)."""
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    # --- how much room there is -----------------------------------------------------------

    def factor(self, now: float) -> float:
        """The part of the rate in use: below 1 for a while after a 429."""
        if self._factor >= 1.0:
            return 1.0
        regained = (now - self._slowed_at) / RECOVERY * (1.0 - self._factor)
        return min(1.0, self._factor + max(0.0, regained))

    def windows(self, now: float, margin: float = MARGIN) -> list[tuple[int, float]]:
        """(count, seconds) of each window at the current rate."""
        factor = self.factor(now)
        second = max(1, math.floor(self.rate.per_second * factor + 1e-9))
        ten = max(1, math.floor(self.rate.per_ten * factor + 1e-9))
        return [(second, 1.0 + margin), (ten, 10.0 + margin)]

    def delay(self) -> float:
        """Seconds until a new request fits in every window (0 if it fits now)."""
        now = self.now()
        while self._slots and self._slots[0].at(now) <= now - 10.0 - MARGIN:
            self._slots.popleft()
        wait = max(0.0, self.paused_until - now)
        if not self._slots:
            return wait
        stamps = [slot.at(now) for slot in self._slots]
        for count, seconds in self.windows(now):
            if len(stamps) < count:
                continue
            recent = [stamp for stamp in stamps if stamp > now - seconds]
            if len(recent) >= count:  # full: wait until its count-th newest slides out
                recent.sort(reverse=True)
                wait = max(wait, recent[count - 1] + seconds - now)
        return wait

    def recall(self, ages: Iterable[float]) -> None:
        """Requests sent `ages` seconds ago by a process that has ended count in this
        budget's windows: a restart does not send a second's worth on top of them."""
        now = self.now()
        recalled = []
        for age in sorted(ages, reverse=True):
            slot = Slot(self, now - max(0.0, age))
            slot.sent = slot.granted
            recalled.append(slot)
        self._slots = deque([*recalled, *self._slots])
        self._reschedule()

    # --- granting ---------------------------------------------------------------------------

    async def reserve(self, *, urgent: bool = False) -> Slot:
        """Wait for room (behind earlier callers; urgent ones go before the others) and
        return the granted slot."""
        if not self._urgent and (urgent or not self._waiters) and self.delay() <= 0:
            return self._grant()
        line = self._urgent if urgent else self._waiters
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        line.append(waiter)
        self._schedule()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back(waiter.result())
            with contextlib.suppress(ValueError):
                line.remove(waiter)
            raise

    async def take(self, *, urgent: bool = False) -> Slot:
        """The slot for a request about to leave: the one prepaid for this task, or a new
        one; admitted by the shared ledger too when there is one, then stamped."""
        slot = _PREPAID.get()
        fresh = slot is None or slot._budget is not self or slot.sent is not None
        if fresh:
            slot = await self.reserve(urgent=urgent)
        assert slot is not None
        if self.ledger is not None:
            try:
                await self._admitted(self.ledger)
            except BaseException:
                if fresh:
                    self.give_back(slot)
                raise
        slot.use()
        return slot

    async def _admitted(self, ledger: SharedLedger) -> None:
        """Wait until the shared ledger records this request (ask, sleep its wait, ask
        again). If the database fails, the request goes on under this process's windows."""
        async with self._admitting:
            while True:
                try:
                    wait = await ledger.admit(self.name, self.windows(self.now(), SHARED_MARGIN))
                except Exception:
                    if not self._ledger_failing:
                        log.warning("%s budget: the shared ledger failed", self.name, exc_info=True)
                    self._ledger_failing = True
                    return
                self._ledger_failing = False
                if wait <= 0:
                    return
                await asyncio.sleep(wait)

    def give_back(self, slot: Slot) -> None:
        """A granted slot that was not used (its job went away)."""
        with contextlib.suppress(ValueError):
            self._slots.remove(slot)
        self._schedule()

    def _grant(self) -> Slot:
        slot = Slot(self, self.now())
        self._slots.append(slot)
        self.granted += 1
        return slot

    def _schedule(self) -> None:
        if self._timer is not None or not (self._waiters or self._urgent):
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, self.delay()), self._pump)

    def _pump(self) -> None:
        self._timer = None
        for line in (self._urgent, self._waiters):
            while line:
                if line[0].done():
                    line.popleft()
                    continue
                if self.delay() > 0:
                    self._schedule()
                    return
                line.popleft().set_result(self._grant())
        self._schedule()

    # --- being told to slow down -----------------------------------------------------------

    def slow_down(self, retry_after: float | None, reason: str = "429") -> float:
        """Pause every caller (Retry-After, capped at 15 min; 1 s if none) and halve the
        rate for a while. Returns when requests may flow again (budget clock)."""
        now = self.now()
        wait = min(RETRY_AFTER_CAP, retry_after if retry_after is not None else 1.0)
        self.paused_until = max(self.paused_until, now + max(0.0, wait))
        if self.slowdowns == 0 or now - self._slowed_at > REHALVE:
            self._factor = max(MIN_FACTOR, self.factor(now) / 2)
            self._slowed_at = now
        self.slowdowns += 1
        self._share_pause(wait)
        log.warning(
            "toapis %s budget: %s; pausing %.1fs and slowing to %.0f%% of the rate",
            self.name,
            reason,
            wait,
            self._factor * 100,
        )
        self._reschedule()
        return self.paused_until

    def exhausted_until(self, reset_in: float) -> None:
        """`X-RateLimit-Remaining: 0`: no more requests before the window resets."""
        now = self.now()
        self.paused_until = max(self.paused_until, now + min(RETRY_AFTER_CAP, reset_in))
        self._share_pause(min(RETRY_AFTER_CAP, reset_in))
        self._reschedule()

    def _share_pause(self, seconds: float) -> None:
        """Pause every process sharing the ledger too (in the background)."""
        ledger = self.ledger
        if ledger is None or seconds <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no running loop: nothing is sent either
            return

        async def share() -> None:
            try:
                await ledger.pause(self.name, seconds)
            except Exception:
                log.warning("%s budget: could not share the pause", self.name, exc_info=True)

        task = loop.create_task(share())
        self._sharing.add(task)
        task.add_done_callback(self._sharing.discard)

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(RuntimeError):  # no running loop: nothing waits
            self._schedule()


@dataclass
class AccountBudgets:
    """The two budgets of one toapis account, shared by the client and the scheduler."""

    submit: Budget
    query: Budget

    def share(self, ledger: SharedLedger) -> None:
        """Count both budgets over every process using `ledger` too."""
        self.submit.ledger = ledger
        self.query.ledger = ledger

    @classmethod
    def create(cls, limits: Limits, *, query_share: float = 0.8) -> AccountBudgets:
        """Submits may use the whole submit limit; queries `query_share` of theirs."""
        return cls(
            submit=Budget("submit", limits.submit),
            query=Budget("query", limits.query.share(query_share)),
        )
