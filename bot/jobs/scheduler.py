"""Status polls under one budget: each job's task asks for its next poll, one driver grants.

Every job keeps its own asyncio task (it polls its task and edits its reply), but it no
longer sleeps on a timer of its own: it asks `PollScheduler.turn(delay)` and sleeps until
granted. The driver keeps a heap of next-due times and grants a query slot to the most
overdue job whenever the query budget has room, so however many jobs are in flight the
total stays inside the budget, and a waiting job costs one heap entry and one future.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque

from bot.domain.records import JobState
from bot.jobs.timings import TrackerTimings
from bot.net.rate_budget import Budget, Slot
from bot.stopping import cancel_and_wait

_Entry = tuple[float, int, "asyncio.Future[Slot]"]


class PollScheduler:
    """Grants status queries in order of next-due time, within the query budget."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._heap: list[_Entry] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Jobs waiting for a poll (cancelled entries may be counted until popped)."""
        return len(self._heap)

    async def turn(self, delay: float) -> Slot:
        """Sleep until this job's poll is due and the budget has room; returns the slot."""
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[Slot] = loop.create_future()
        heapq.heappush(self._heap, (loop.time() + max(0.0, delay), next(self._order), granted))
        if self._heap[0][2] is granted:
            self._wake.set()  # a new earliest entry: the driver re-plans
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive(), name="poll-scheduler")
        try:
            return await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.budget.give_back(granted.result())
            raise

    async def close(self) -> None:
        """Stop the driver (job tasks are cancelled by their owner)."""
        driver, self._driver = self._driver, None
        await cancel_and_wait(driver)

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0][2].done():
            heapq.heappop(self._heap)

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._drop_cancelled()
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            due = self._heap[0][0]
            if due > loop.time():
                self._wake.clear()
                timer = loop.call_at(due, self._wake.set)
                try:
                    await self._wake.wait()
                finally:
                    timer.cancel()
                continue
            slot = await self.budget.reserve()
            self._drop_cancelled()
            if not self._heap:
                self.budget.give_back(slot)
                continue
            heapq.heappop(self._heap)[2].set_result(slot)


class Pace:
    """How long tasks usually wait and run, learned from the ones seen (for poll timing).

    The first few observations count fully (a running mean), later ones as a moving
    average, so a fresh process stops trusting its first guess after one task.
    """

    def __init__(self, timings: TrackerTimings) -> None:
        self.queue_time = timings.poll_interval  # from submission until first seen running
        self.run_time = max(0.0, timings.expected_duration - timings.poll_interval)
        self._starts = 0
        self._ends = 0
        # (bucket start, longest wait of a task answering "queued" in it), newest last
        self._queued: deque[tuple[float, float]] = deque()

    def still_queued(self, age: float, now: float) -> None:
        """A task answered "queued" at `now` (tracker clock), `age` seconds after it was sent."""
        bucket = now - now % FLOOR_BUCKET
        if self._queued and self._queued[-1][0] == bucket:
            self._queued[-1] = (bucket, max(self._queued[-1][1], age))
        else:
            self._queued.append((bucket, age))
        while self._queued[0][0] <= now - FLOOR_WINDOW:
            self._queued.popleft()

    def oldest_queued(self, now: float) -> float:
        """The longest any task answering "queued" lately (`FLOOR_WINDOW`) had waited: a
        task sent after it will usually not start before it has waited as long (0 if none).
        What each was seen at, not how long it would have waited by now: it may have
        started since."""
        since = now - FLOOR_WINDOW
        return max((age for bucket, age in self._queued if bucket > since), default=0.0)

    @property
    def duration(self) -> float:
        """From submission to completion, usually."""
        return self.queue_time + self.run_time

    def started(self, age: float) -> None:
        """A task was first seen in progress `age` seconds after submission."""
        self._starts += 1
        self.queue_time += _weight(self._starts) * (max(0.0, age) - self.queue_time)

    def finished(self, age: float, started: float | None = None) -> None:
        """A task was seen completed `age` seconds after submission (first seen running
        at `started`, if it was)."""
        ran = age - (started if started is not None else self.queue_time)
        self._ends += 1
        self.run_time += _weight(self._ends) * (max(0.0, ran) - self.run_time)


# Tasks seen queued are remembered this long, in buckets (seconds): longer than the
# slowest poll of a queued task, so the oldest is seen again before it is forgotten.
FLOOR_WINDOW = 60.0
FLOOR_BUCKET = 10.0


def _weight(seen: int) -> float:
    return max(0.2, 1.0 / seen)


def next_poll(
    timings: TrackerTimings,
    pace: Pace,
    *,
    state: JobState,
    age: float,
    polls: int,
    stalled: bool,
    errors: int,
    started: float | None = None,
    oldest: float = 0.0,
) -> float:
    """The wait before a job's next status query.

    A waiting task changes nothing anyone sees, so it is asked as rarely as will still
    catch what matters: the first query (and the next while queued) when tasks usually
    start, then less and less often the longer it stays queued. Behind an older task
    seen queued lately (`oldest`: how long it had waited then), it is asked halfway to
    the moment it will have waited as long, at most every `12 * poll_interval`: toapis
    usually starts tasks in the order they came, so the oldest ones tell when the line
    moves. While running, every
    `2 * poll_interval` until near its usual end (counted from when it was first seen
    running, `started`), then closer together; past that end, slowly further apart.
    Slow for a stuck task; backing off after errors.
    """
    base = timings.poll_interval
    longest = base * 6  # however long tasks usually wait, never ask less often than this
    if errors:
        wait = min(timings.max_error_backoff, base * 2 ** min(errors, 6))
    elif stalled:
        wait = timings.slow_poll_interval
    elif polls == 0:
        wait = min(longest, max(base * 0.5, pace.queue_time - age))
    elif state is JobState.QUEUED:
        left = pace.queue_time - age
        behind = oldest - age  # an older task still waits that much longer than this one
        if behind > base * 2:
            wait = min(longest * 2, max(base * 2, max(left, behind) / 2))
        elif left > 0:
            wait = min(longest, max(base * 2, left))
        else:  # queued longer than usual: it may start any time; ask less and less often
            wait = min(max(base * 2, -left / 2), max(base * 2, min(longest, pace.run_time / 2)))
    else:
        end = (started + pace.run_time) if started is not None else pace.duration
        left = end - age
        if left > 0:
            wait = min(base * 2, max(base * 0.6, left / 2))
        else:  # running longer than usual: closer at first, then further apart
            wait = min(base * 2, max(base * 0.6, -left / 4))
    return float(wait * random.uniform(0.9, 1.1))
