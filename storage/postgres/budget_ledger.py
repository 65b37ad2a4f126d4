"""Request budgets shared by every process on one PostgreSQL database.

The issue asked for "token buckets kept in PostgreSQL", but toapis (and the simulator)
count every limit as a SLIDING window: "5 in any 1 s and 50 in any 10 s". A bucket lets a
full burst out at once and so goes over the 1 s window; this is a sliding-window ledger
instead, the shared twin of `bot.net.rate_budget.Budget`. Each grant is a stamp in
``budget_grants``; `BudgetLedger.admit` runs one function (``budget_admit``, migration
12) that, under an advisory lock for the budget, drops stamps older than the longest
window, counts each window by the database server's clock (``clock_timestamp()``, so
processes on machines with skewed clocks agree) and either records a stamp or says how
long to wait, honouring a pause set by any process (``budget_pauses``).

A SQLite file has one process, which keeps its budgets in memory: `budget_ledger` is
None there and nothing is asked of the database per request.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.database import Database


class BudgetLedger:
    """The grants and pauses of every budget, shared by all processes (PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def admit(self, name: str, windows: Sequence[tuple[int, float]]) -> float:
        """Record a grant now and return 0 if every window of `name` has room (count
        stamps in any `seconds`); else record nothing and return the seconds to wait."""
        row = await self._db.fetchone(
            "SELECT budget_admit(?, ?::integer[], ?::double precision[]) AS delay",
            (name, [int(count) for count, _ in windows], [float(s) for _, s in windows]),
        )
        return max(0.0, float(row["delay"])) if row is not None else 0.0

    async def pause(self, name: str, seconds: float) -> None:
        """No grant of `name` for `seconds` from now, in any process (a later pause wins)."""
        await self._db.execute(
            "INSERT INTO budget_pauses (name, paused_until) "
            "VALUES (?, extract(epoch FROM clock_timestamp()) + ?) "
            "ON CONFLICT (name) DO UPDATE "
            "SET paused_until = greatest(budget_pauses.paused_until, excluded.paused_until)",
            (name, float(seconds)),
        )

    async def paused_for(self, name: str) -> float:
        """Seconds left of the pause of `name` (0 when it is not paused)."""
        row = await self._db.fetchone(
            "SELECT greatest(0, paused_until - extract(epoch FROM clock_timestamp())) AS left_ "
            "FROM budget_pauses WHERE name = ?",
            (name,),
        )
        return float(row["left_"]) if row is not None else 0.0

    async def grants(self, name: str) -> list[float]:
        """The recorded stamps of `name` still kept (server clock, oldest first)."""
        rows = await self._db.fetchall(
            "SELECT granted_at FROM budget_grants WHERE name = ? ORDER BY granted_at", (name,)
        )
        return [float(row["granted_at"]) for row in rows]


def budget_ledger(db: Database) -> BudgetLedger | None:
    """The ledger several processes share, or None when one process has the database."""
    return BudgetLedger(db) if db.dialect == "postgresql" else None
