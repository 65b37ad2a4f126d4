"""Budgets shared through PostgreSQL: independent processes stay under one set of windows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bot.net.rate_budget import Budget, Rate
from storage import open_database
from storage.postgres.budget_ledger import BudgetLedger, budget_ledger
from tests.storage.backends import postgres_schema, skip_without_postgres


@contextlib.asynccontextmanager
async def ledgers(count: int) -> AsyncIterator[list[BudgetLedger]]:
    """`count` ledgers on one schema, each on a `Database` of its own (as processes)."""
    async with postgres_schema() as url:
        databases = [await open_database(url) for _ in range(count)]
        try:
            shared = [budget_ledger(db) for db in databases]
            yield [ledger for ledger in shared if ledger is not None]
        finally:
            for db in databases:
                await db.close()


def most_in_any(stamps: list[float], seconds: float) -> int:
    """The most stamps in any window of `seconds` (sliding)."""
    stamps = sorted(stamps)
    counts = [sum(1 for t in stamps[i:] if t < start + seconds) for i, start in enumerate(stamps)]
    return max(counts, default=0)


async def test_independent_budgets_together_stay_within_the_windows() -> None:
    skip_without_postgres()
    rate = Rate(4, 8)  # 4 in any second, 8 in any 10 s: both windows bind within 3 s
    async with ledgers(3) as shared:
        budgets = [Budget("submit", rate, ledger=ledger) for ledger in shared]
        taken = [0, 0, 0]

        async def hammer(index: int) -> None:
            while True:
                await budgets[index].take()
                taken[index] += 1

        # Each budget alone would grant 4 at once and 4 more a second later.
        workers = [asyncio.create_task(hammer(i)) for i in range(3) for _ in range(3)]
        await asyncio.sleep(3.0)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        stamps = await shared[0].grants("submit")

    assert sum(taken) == len(stamps) == 8  # the 10 s window is full, nothing more
    assert most_in_any(stamps, 1.0) <= 4
    assert most_in_any(stamps, 10.0) <= 8
    assert sum(1 for n in taken if n) >= 2  # more than one process got its share


async def test_a_pause_in_one_process_holds_the_others() -> None:
    skip_without_postgres()
    async with ledgers(2) as (first, second):
        slowed = Budget("query", Rate(50, 500), ledger=first)
        other = Budget("query", Rate(50, 500), ledger=second)
        await other.take()  # flows freely before the 429
        slowed.slow_down(1.0)  # a 429 with Retry-After: 1 in the first process

        deadline = time.monotonic() + 5
        while await second.paused_for("query") <= 0:
            assert time.monotonic() < deadline, "the pause never reached the ledger"
            await asyncio.sleep(0.02)
        started = time.monotonic()
        await other.take()
        waited = time.monotonic() - started

    assert 0.5 < waited < 2.0
    assert other.slowdowns == 0  # told by the ledger, not by a 429 of its own


async def test_sqlite_has_no_shared_ledger(tmp_path: Path) -> None:
    async with await open_database(tmp_path / "bot.db") as db:
        assert budget_ledger(db) is None
