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
