"""Stored characters. Every query that takes a guild filters by it: guilds never mix."""

from __future__ import annotations

import dataclasses
import time

from bot.domain.records import Character
from storage.bindings import BindingRepository
from storage.character_rows import (
    BEFORE,
    BY_CREATOR,
    CHARACTER_COLUMNS,
    NEWEST_FIRST,
    SELECT_CHARACTERS,
    SELECT_CHARACTERS_WITH_AVATAR,
    characters_of_job,
    insert_character,
    row_to_character,
    search_key,
)
from storage.database import Database
from storage.postgres.search import trigram_matches
from storage.sqlite.search import TRIGRAM, fts_matches

__all__ = [
    "CONTAINS",
    "COUNT_REUSE",
    "PREFIX_END",
    "SMALL_GUILD",
    "CharacterRepository",
    "characters_of_job",  # written inside a job's transaction (storage.jobs)
    "insert_character",
    "row_to_character",
    "search_key",
]

# Greater than every string that starts with a given prefix (binary UTF-8 order).
PREFIX_END = "\U0010ffff"

# Substring search reads a guild this small whole, from the index of its keys, instead
# of the trigram index (which would yield every other guild's matches too).
SMALL_GUILD = 10_000

# How long a guild's count, read for that choice alone, is reused (seconds): either way
# gives the same matches, so a count a little out of date costs nothing but time.
COUNT_REUSE = 60.0

# A key containing the bound text, exactly (no pattern characters), in each dialect.
CONTAINS = {"sqlite": "instr({}, ?) > 0", "postgresql": "strpos({}, ?) > 0"}


def _creator_filter(creator_id: int | None) -> tuple[str, tuple[int, ...]]:
    """The SQL clause and parameters that keep only one creator's characters, if asked."""
    return ("", ()) if creator_id is None else (BY_CREATOR, (creator_id,))


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")


class CharacterRepository:
    """Reads and edits the characters of each guild."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db
        self._counts: dict[int, tuple[float, int]] = {}  # guild: (read at, count)

    async def list_for_guild(
        self,
        guild_id: int,
        *,
        limit: int = 10,
        offset: int = 0,
        creator_id: int | None = None,
        before: tuple[float, int] | None = None,
    ) -> list[Character]:
        """One page of a guild's characters, newest first, without avatar bytes.

        With ``creator_id``, only the characters that user made. With ``before`` (the
        ``(created_at, id)`` of the last character of the previous page), the page after
        it: unlike a deep ``offset``, this costs the same on every page.
        """
        _check_page(limit, offset)
        by_creator, creator = _creator_filter(creator_id)
        cursor = BEFORE if before is not None else ""
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE guild_id = ? {by_creator} {cursor} "
            f"{NEWEST_FIRST} LIMIT ? OFFSET ?",
            (guild_id, *creator, *(before or ()), limit, offset),
        )
        return [row_to_character(row) for row in rows]

    async def avatars(self, row_ids: list[int]) -> dict[int, bytes]:
        """The avatar bytes of these characters (by row id; those without one are left out)."""
        if not row_ids:
            return {}
        marks = ", ".join("?" for _ in row_ids)
        rows = await self._db.fetchall(
            f"SELECT id, avatar FROM characters WHERE id IN ({marks}) AND avatar IS NOT NULL",  # noqa: S608
            tuple(row_ids),
        )
        return {int(row["id"]): bytes(row["avatar"]) for row in rows}

    async def search(self, guild_id: int, text: str, *, limit: int = 25) -> list[Character]:
        """Characters of a guild whose display name or username matches ``text``.

        Case-insensitive (``search_key``); a leading ``@`` means a username. Prefix
        matches come first (display names, then usernames, each alphabetical), then
        substring matches of three characters or more, newest first. An empty ``text``
        gives the newest characters. No avatar bytes.
        """
        _check_page(limit, 0)
        name = search_key(text.strip())
        user = name.removeprefix("@")
        if not user or limit == 0:
            return await self.list_for_guild(guild_id, limit=limit) if limit else []
        found = await self._prefix_matches(guild_id, name, user, limit)
        if len(found) < limit and len(user) >= TRIGRAM:
            seen = {character.id for character in found}
            more = await self._substring_matches(guild_id, name, user, limit + len(seen))
            found += [character for character in more if character.id not in seen]
        return found[:limit]

    async def named(self, guild_id: int, text: str, *, limit: int = 25) -> list[Character]:
        """Characters of a guild whose display name or username is exactly ``text``.

        Case-insensitive; a leading ``@`` may precede a username. Oldest first, no avatar
        bytes. Several characters may share a name: callers let the user choose.
        """
        _check_page(limit, 0)
        name = search_key(text.strip())
        user = name.removeprefix("@")
        if not user or limit == 0:
            return []
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE guild_id = ? AND name_key = ? "
            "UNION "
            f"{SELECT_CHARACTERS} WHERE guild_id = ? AND username_key = ? "
            "ORDER BY created_at, id LIMIT ?",
            (guild_id, name, guild_id, user, limit),
        )
        return [row_to_character(row) for row in rows]

    async def _prefix_matches(
        self, guild_id: int, name: str, user: str, limit: int
    ) -> list[Character]:
        """Display names starting with ``name``, then usernames starting with ``user``."""
        by_name = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE guild_id = ? AND name_key >= ? AND name_key < ? "
            "ORDER BY name_key, id LIMIT ?",
            (guild_id, name, name + PREFIX_END, limit),
        )
        if len(by_name) >= limit:
            return [row_to_character(row) for row in by_name]
        # Those whose name matched are already listed: only usernames that alone match.
        by_user = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE guild_id = ? AND username_key >= ? "
            "AND username_key < ? AND NOT (name_key >= ? AND name_key < ?) "
            "ORDER BY username_key, id LIMIT ?",
            (guild_id, user, user + PREFIX_END, name, name + PREFIX_END, limit - len(by_name)),
        )
        return [row_to_character(row) for row in [*by_name, *by_user]]

    async def _substring_matches(
        self, guild_id: int, name: str, user: str, limit: int
    ) -> list[Character]:
        """Characters containing the text anywhere, newest (highest id) first.

        A guild of up to `SMALL_GUILD` characters is read whole from the index of its
        keys. A larger one is searched through a trigram index: on SQLite, the FTS5 table
        (`storage.sqlite.search`) yields ids in descending order, so the scan stops at
        ``limit`` rows of this guild; on PostgreSQL, `storage.postgres.search` looks in its
        newest ids first.
        """
        if await self._recent_count(guild_id) <= SMALL_GUILD:
            return await self._small_guild_matches(guild_id, name, user, limit)
        if self._db.dialect == "postgresql":
            rows = await trigram_matches(self._db, SELECT_CHARACTERS, guild_id, name, user, limit)
            return [row_to_character(row) for row in rows]
        columns = ", ".join(f"c.{column.strip()}" for column in CHARACTER_COLUMNS.split(","))
        rows = await fts_matches(self._db, columns, guild_id, name, user, limit)
        return [row_to_character(row) for row in rows]

    async def _recent_count(self, guild_id: int) -> int:
        """The guild's count, read again after `COUNT_REUSE` seconds."""
        now = time.monotonic()
        read_at, count = self._counts.get(guild_id, (-COUNT_REUSE, 0))
        if now - read_at >= COUNT_REUSE:
            count = await self.count_for_guild(guild_id)
            self._counts[guild_id] = (now, count)
        return count

    async def _small_guild_matches(
        self, guild_id: int, name: str, user: str, limit: int
    ) -> list[Character]:
        """`_substring_matches` by reading every key of a small guild, newest first."""
        contains = CONTAINS[self._db.dialect]
        by_user = contains.format("username_key")
        if len(name) >= TRIGRAM:
            where = f"({contains.format('name_key')} OR {by_user})"
            params: tuple[str, ...] = (name, user)
        else:
            where, params = by_user, (user,)
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE id IN (SELECT id FROM (SELECT id, name_key, "  # noqa: S608
            "username_key FROM characters WHERE guild_id = ? ORDER BY id DESC LIMIT ?) "
            f"AS guild WHERE {where} ORDER BY id DESC LIMIT ?) ORDER BY id DESC",
            (guild_id, SMALL_GUILD, *params, limit),
        )
        return [row_to_character(row) for row in rows]

    async def count_all(self) -> int:
        """Characters stored in every server (from the per-guild counts)."""
        row = await self._db.fetchone("SELECT COALESCE(SUM(total), 0) AS n FROM character_counts")
        return int(row["n"]) if row is not None else 0

    async def count_for_guild(self, guild_id: int, *, creator_id: int | None = None) -> int:
        """How many characters a guild has (or that one of its users made)."""
        if creator_id is None:  # kept up to date by triggers: no need to count rows
            row = await self._db.fetchone(
                "SELECT total FROM character_counts WHERE guild_id = ?", (guild_id,)
            )
        else:
            row = await self._db.fetchone(
                "SELECT count(*) FROM characters WHERE guild_id = ? AND creator_id = ?",
                (guild_id, creator_id),
            )
        return int(row[0]) if row is not None else 0

    async def get(
        self, guild_id: int, character_id: str, *, with_avatar: bool = True
    ) -> Character | None:
        """One character of a guild, or None if that guild does not have it."""
        select = SELECT_CHARACTERS_WITH_AVATAR if with_avatar else SELECT_CHARACTERS
        row = await self._db.fetchone(
            f"{select} WHERE guild_id = ? AND character_id = ?",
            (guild_id, character_id),
        )
        if row is None:
            return None
        return (await self.with_bindings([row_to_character(row)]))[0]

    async def get_row(self, row_id: int) -> Character | None:
        """One character by its row id, with its avatar and bindings (None: gone)."""
        row = await self._db.fetchone(f"{SELECT_CHARACTERS_WITH_AVATAR} WHERE id = ?", (row_id,))
        if row is None:
            return None
        return (await self.with_bindings([row_to_character(row)]))[0]

    async def with_bindings(self, characters: list[Character]) -> list[Character]:
        """The characters with their engine bindings loaded."""
        found = await BindingRepository(self._db).of_many(c.id for c in characters)
        return [
            dataclasses.replace(c, bindings=tuple(found.get(c.id, {}).values())) for c in characters
        ]

    async def for_job(self, job_id: int) -> list[Character]:
        """Every character stored for a job, oldest first, with avatars."""
        return await characters_of_job(self._db, job_id)

    async def unannounced_for_job(self, job_id: int) -> list[Character]:
        """The characters of a job not yet announced for it, oldest first, with avatars."""
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS_WITH_AVATAR} "  # noqa: S608 (constant SQL)
            "WHERE (job_id = ? AND announced_at IS NULL) OR id IN (SELECT character_row "
            "FROM job_characters WHERE job_id = ? AND announced_at IS NULL) ORDER BY id",
            (job_id, job_id),
        )
        return await self.with_bindings([row_to_character(row) for row in rows])

    async def mark_announced(self, row_id: int, *, job_id: int | None = None) -> None:
        """Record that a character was announced (for `job_id`; the first time only)."""
        now = time.time()
        async with self._db.transaction() as tx:
            if job_id is None:
                await tx.execute(
                    "UPDATE characters SET announced_at = ? WHERE id = ? AND announced_at IS NULL",
                    (now, row_id),
                )
            else:
                await tx.execute(
                    "UPDATE characters SET announced_at = ? WHERE id = ? "
                    "AND announced_at IS NULL AND job_id = ?",
                    (now, row_id, job_id),
                )
                await tx.execute(
                    "UPDATE job_characters SET announced_at = ? "
                    "WHERE job_id = ? AND character_row = ? AND announced_at IS NULL",
                    (now, job_id, row_id),
                )

    async def rename(self, guild_id: int, character_id: str, display_name: str) -> Character | None:
        """Change a character's display name; the renamed character, or None if not found."""
        if not display_name.strip():
            raise ValueError("a character's display name cannot be empty")
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                "UPDATE characters SET display_name = ?, name_key = ? "
                "WHERE guild_id = ? AND character_id = ?",
                (display_name, search_key(display_name), guild_id, character_id),
            )
            if outcome.rowcount == 0:
                return None
            row = await tx.fetchone(
                f"{SELECT_CHARACTERS_WITH_AVATAR} WHERE guild_id = ? AND character_id = ?",
                (guild_id, character_id),
            )
        return row_to_character(row) if row is not None else None

    async def delete(self, guild_id: int, character_id: str) -> bool:
        """Remove a character from a guild; False if the guild did not have it."""
        outcome = await self._db.execute(
            "DELETE FROM characters WHERE guild_id = ? AND character_id = ?",
            (guild_id, character_id),
        )
        return outcome.rowcount > 0

    async def all_for_guild(self, guild_id: int) -> list[Character]:
        """Every character of a guild with its avatar, oldest first (for an export)."""
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS_WITH_AVATAR} WHERE guild_id = ? ORDER BY created_at, id",
            (guild_id,),
        )
        return [row_to_character(row) for row in rows]

    async def restore(self, characters: list[Character]) -> int:
        """Store exported characters as they were (times, creator, avatar), in one
        transaction, without their jobs; those a guild already has are kept. How many
        were added."""
        added = 0
        async with self._db.transaction() as tx:
            for c in characters:
                outcome = await tx.execute(
                    "INSERT INTO characters (guild_id, character_id, task_id, job_id, "
                    "display_name, name_key, username, username_key, avatar, avatar_mime, "
                    "creator_id, created_at, announced_at) "
                    "VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (guild_id, character_id) DO NOTHING",
                    (
                        c.guild_id,
                        c.character_id,
                        c.task_id,
                        c.display_name,
                        search_key(c.display_name),
                        c.username,
                        search_key(c.username),
                        c.avatar,
                        c.avatar_mime,
                        c.creator_id,
                        c.created_at,
                        c.announced_at,
                    ),
                )
                added += outcome.rowcount
        return added
