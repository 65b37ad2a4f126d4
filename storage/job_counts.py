"""Reading the jobs table: jobs in flight, counts for status, pages (the counts for
spending limits are in `storage.job_quota`). Mixed into `storage.jobs.JobRepository`."""

from __future__ import annotations

from typing import Any

from bot.domain.records import Job, JobKind, JobState
from storage.database import Database
from storage.job_rows import FINAL_SQL, IN_FLIGHT_SQL, row_to_job


class JobCounts:
    """Queries over many jobs (nothing here writes)."""

    _db: Database

    async def in_flight(
        self,
        guild_id: int | None = None,
        requester_id: int | None = None,
        *,
        limit: int = -1,
    ) -> list[Job]:
        """Jobs preparing, waiting to be sent or running at the provider and not
        cancelled, oldest first: every server's, a server's, or one member's there."""
        where = "cancelled_at IS NULL AND state IN (" + IN_FLIGHT_SQL + ")"
        params: tuple[Any, ...] = ()
        if guild_id is not None:
            where += " AND guild_id = ?"
            params += (guild_id,)
        if requester_id is not None:
            where += " AND requester_id = ?"
            params += (requester_id,)
        if limit >= 0:
            where += " ORDER BY id LIMIT ?"
            params += (limit,)
        else:
            where += " ORDER BY id"
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs WHERE {where}",  # noqa: S608 (constant SQL)
            params,
        )
        return [row_to_job(row) for row in rows]

    async def sent_since(self, since: float) -> list[float]:
        """When each create request since `since` (epoch seconds) reached the provider,
        about: those it accepted (when the answer was stored), and those cut off or left
        without an answer (a job still sending, or unknown: when that was written)."""
        unanswered = f"('{JobState.SUBMITTING.value}', '{JobState.UNKNOWN.value}')"
        rows = await self._db.fetchall(
            "SELECT COALESCE(submitted_at, updated_at) AS at FROM jobs "  # noqa: S608
            f"WHERE submitted_at >= ? OR (task_id IS NULL AND state IN {unanswered} "
            "AND updated_at >= ?) ORDER BY at",
            (since, since),
        )
        return [float(row["at"]) for row in rows]

    async def count_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state (all servers)."""
        rows = await self._db.fetchall("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {JobState(row["state"]): int(row["n"]) for row in rows}

    async def count_unannounced(self) -> int:
        """Finished jobs whose outcome was not shown yet."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs "  # noqa: S608 (constant SQL)
            f"WHERE state IN ({FINAL_SQL}) AND announced_at IS NULL"
        )
        return int(row["n"]) if row is not None else 0

    async def by_task(self, task_id: str) -> Job | None:
        """The job that follows this provider task, if any."""
        row = await self._db.fetchone(
            "SELECT * FROM jobs WHERE task_id = ? ORDER BY id DESC LIMIT 1", (task_id,)
        )
        return row_to_job(row) if row is not None else None

    async def task_made_in(self, guild_id: int, task_id: str) -> bool:
        """Whether `task_id` is a task made for this server: one of its jobs', or one of
        its characters' (an imported character has no job here)."""
        row = await self._db.fetchone(
            "SELECT 1 AS found FROM jobs WHERE task_id = ? AND guild_id = ? "
            "UNION ALL SELECT 1 FROM characters WHERE task_id = ? AND guild_id = ? LIMIT 1",
            (task_id, guild_id, task_id, guild_id),
        )
        return row is not None

    async def video_of_task(self, guild_id: int, task_id: str) -> Job | None:
        """This server's completed video job of `task_id` (its result holds the video)."""
        row = await self._db.fetchone(
            "SELECT * FROM jobs WHERE task_id = ? AND guild_id = ? AND kind = ? AND state = ? "
            "ORDER BY id DESC LIMIT 1",
            (task_id, guild_id, JobKind.VIDEO.value, JobState.COMPLETED.value),
        )
        return row_to_job(row) if row is not None else None

    async def list_for_guild(self, guild_id: int, *, limit: int = 25, offset: int = 0) -> list[Job]:
        """One page of a guild's jobs, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE guild_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (guild_id, limit, offset),
        )
        return [row_to_job(row) for row in rows]
