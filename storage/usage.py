"""Usage counts: jobs the provider accepted, per guild and member, since a time."""

from __future__ import annotations

from bot.domain.records import JobState, UsageCount
from storage.database import Database


class UsageRepository:
    """Counts accepted jobs (a task id came back), failed ones included."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def since(self, since: float, guild_id: int | None = None) -> list[UsageCount]:
        """Per guild and member (None: forgotten or from the command line), since `since`."""
        where = "" if guild_id is None else "AND guild_id = ?"
        rows = await self._db.fetchall(
            "SELECT guild_id, requester_id, count(*) AS jobs, "  # noqa: S608 (constant SQL)
            "sum(CASE WHEN state = ? THEN 1 ELSE 0 END) AS failed FROM jobs "
            f"WHERE task_id IS NOT NULL AND submitted_at >= ? {where} "
            "GROUP BY guild_id, requester_id ORDER BY guild_id, jobs DESC, requester_id",
            (JobState.FAILED.value, since, *(() if guild_id is None else (guild_id,))),
        )
        return [
            UsageCount(
                guild_id=int(row["guild_id"]),
                requester_id=None if row["requester_id"] is None else int(row["requester_id"]),
                jobs=int(row["jobs"]),
                failed=int(row["failed"] or 0),
            )
            for row in rows
        ]
