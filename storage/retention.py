"""How long data is kept: servers the bot left, old finished jobs, members who ask to be
forgotten. Callers pass the time (`now`, `cutoff`) so a clock can be controlled."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.records import FINAL_STATES
from storage.database import Database, Session

# SQL list of final state values, built from the enum (never from user input).
_FINAL = ", ".join(f"'{state.value}'" for state in sorted(FINAL_STATES))

# Every table that holds rows of a guild, in the order a purge deletes them.
_GUILD_TABLES = ("characters", "jobs", "guild_settings", "character_counts", "guild_presence")


class RetentionRepository:
    """Presence of the bot in each guild, purges, and forgetting a member."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def mark_present(self, guild_ids: Iterable[int]) -> list[int]:
        """The bot is in these guilds: clear any leave time; the guilds it came back to."""
        ids = sorted(set(guild_ids))
        returned: list[int] = []
        async with self._db.transaction() as tx:
            for guild_id in ids:
                row = await tx.fetchone(
                    "SELECT left_at FROM guild_presence WHERE guild_id = ?", (guild_id,)
                )
                if row is not None and row["left_at"] is not None:
                    returned.append(guild_id)
                await tx.execute(
                    "INSERT INTO guild_presence (guild_id, left_at) VALUES (?, NULL) "
                    "ON CONFLICT (guild_id) DO UPDATE SET left_at = NULL",
                    (guild_id,),
                )
        return returned

    async def mark_left(self, guild_ids: Iterable[int], now: float) -> list[int]:
        """The bot left these guilds at `now` (an earlier leave time is kept); the guilds
        not already marked as left."""
        newly: list[int] = []
        async with self._db.transaction() as tx:
            for guild_id in sorted(set(guild_ids)):
                outcome = await tx.execute(
                    "INSERT INTO guild_presence (guild_id, left_at) VALUES (?, ?) "
                    "ON CONFLICT (guild_id) DO UPDATE SET left_at = excluded.left_at "
                    "WHERE guild_presence.left_at IS NULL",
                    (guild_id, now),
                )
                if outcome.rowcount:
                    newly.append(guild_id)
        return newly

    async def known_guilds(self) -> set[int]:
        """Every guild we hold anything for (data, settings, or a presence row)."""
        rows = await self._db.fetchall(
            "SELECT guild_id FROM guild_presence "
            "UNION SELECT DISTINCT guild_id FROM characters "
            "UNION SELECT DISTINCT guild_id FROM jobs "
            "UNION SELECT DISTINCT guild_id FROM guild_settings"
        )
        return {int(row["guild_id"]) for row in rows}

    async def left_at(self, guild_id: int) -> float | None:
        """When the bot left this guild, or None while it is there (or never was)."""
        row = await self._db.fetchone(
            "SELECT left_at FROM guild_presence WHERE guild_id = ?", (guild_id,)
        )
        return None if row is None or row["left_at"] is None else float(row["left_at"])

    async def left_before(self, cutoff: float) -> list[int]:
        """Guilds the bot left before `cutoff`."""
        rows = await self._db.fetchall(
            "SELECT guild_id FROM guild_presence WHERE left_at < ? ORDER BY guild_id", (cutoff,)
        )
        return [int(row["guild_id"]) for row in rows]

    async def purge_guild(self, guild_id: int, cutoff: float) -> tuple[int, int] | None:
        """Delete everything of a guild the bot left before `cutoff`, in one transaction;
        (characters, jobs) deleted, or None when the bot is back (nothing deleted)."""
        async with self._db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT 1 FROM guild_presence WHERE guild_id = ? AND left_at < ?",
                (guild_id, cutoff),
            )
            if row is None:
                return None
            counts = [await _delete_guild_rows(tx, table, guild_id) for table in _GUILD_TABLES]
            return counts[0], counts[1]

    async def prune_jobs(self, cutoff: float) -> int:
        """Delete jobs that finished before `cutoff` (their characters stay); how many."""
        outcome = await self._db.execute(
            f"DELETE FROM jobs WHERE finished_at < ? AND state IN ({_FINAL})",  # noqa: S608
            (cutoff,),
        )
        return outcome.rowcount

    async def prune_webhook_events(self, cutoff: float) -> int:
        """Delete webhook events handled before `cutoff` (unhandled ones stay); how many."""
        outcome = await self._db.execute(
            "DELETE FROM webhook_events WHERE handled_at < ?", (cutoff,)
        )
        return outcome.rowcount

    async def member_footprint(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """(jobs, characters) a member has in a guild: what forgetting them touches."""
        jobs = await self._db.fetchone(
            "SELECT count(*) FROM jobs WHERE guild_id = ? AND requester_id = ?",
            (guild_id, user_id),
        )
        characters = await self._db.fetchone(
            "SELECT count(*) FROM characters WHERE guild_id = ? AND creator_id = ?",
            (guild_id, user_id),
        )
        return (int(jobs[0]) if jobs else 0, int(characters[0]) if characters else 0)

    async def forget_member(
        self, guild_id: int, user_id: int, *, delete_characters: bool
    ) -> tuple[int, int]:
        """Remove a member's user id from everything of a guild, in one transaction.

        Their jobs stay as anonymous rows (usage counts them) without requester or the
        source they gave (finished jobs only: running ones still need it). Their
        characters are deleted, or kept without a creator. Returns (jobs, characters).
        """
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET source_ref = '', request = '{}', meta = '{}' "  # noqa: S608
                f"WHERE guild_id = ? AND requester_id = ? AND state IN ({_FINAL})",
                (guild_id, user_id),
            )
            jobs = await tx.execute(
                "UPDATE jobs SET requester_id = NULL WHERE guild_id = ? AND requester_id = ?",
                (guild_id, user_id),
            )
            if delete_characters:
                characters = await tx.execute(
                    "DELETE FROM characters WHERE guild_id = ? AND creator_id = ?",
                    (guild_id, user_id),
                )
            else:
                characters = await tx.execute(
                    "UPDATE characters SET creator_id = NULL WHERE guild_id = ? AND creator_id = ?",
                    (guild_id, user_id),
                )
            return jobs.rowcount, characters.rowcount


async def _delete_guild_rows(tx: Session, table: str, guild_id: int) -> int:
    assert table in _GUILD_TABLES
    outcome = await tx.execute(f"DELETE FROM {table} WHERE guild_id = ?", (guild_id,))  # noqa: S608
    return outcome.rowcount
