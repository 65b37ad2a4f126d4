"""Stored characters. Every query that takes a guild filters by it: guilds never mix."""

from __future__ import annotations

import sqlite3
import time

from storage.database import Database, Session
from storage.models import Character, NewCharacter

# Columns of a Character, without the avatar bytes (those can be large).
CHARACTER_COLUMNS = (
    "id, guild_id, character_id, task_id, job_id, display_name, username, "
    "creator_id, created_at, announced_at, avatar_mime"
)
CHARACTER_COLUMNS_WITH_AVATAR = CHARACTER_COLUMNS + ", avatar"

# Constant query heads; callers only append constant clauses with ? placeholders.
SELECT_CHARACTERS = f"SELECT {CHARACTER_COLUMNS} FROM characters"  # noqa: S608
SELECT_CHARACTERS_WITH_AVATAR = f"SELECT {CHARACTER_COLUMNS_WITH_AVATAR} FROM characters"  # noqa: S608

# Optional creator filter: bind the creator id (or None for everyone) twice.
BY_CREATOR = "(? IS NULL OR creator_id = ?)"

# Newest first; id breaks ties between characters stored in the same instant.
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


def search_key(text: str) -> str:
    """The case-insensitive form of a name, stored next to it for searching."""
    return text.casefold()


def row_to_character(row: sqlite3.Row) -> Character:
    """Build a Character from a row selected with one of the column lists above."""
    keys = row.keys()
    return Character(
        id=row["id"],
        guild_id=row["guild_id"],
        character_id=row["character_id"],
        task_id=row["task_id"],
        job_id=row["job_id"],
        display_name=row["display_name"],
        username=row["username"],
        creator_id=row["creator_id"],
        created_at=row["created_at"],
        announced_at=row["announced_at"],
        avatar_mime=row["avatar_mime"],
        avatar=bytes(row["avatar"]) if "avatar" in keys and row["avatar"] is not None else None,
    )


async def insert_character(
    session: Session,
    new: NewCharacter,
    *,
    job_id: int | None,
    creator_id: int | None,
    now: float,
) -> bool:
    """Store ``new`` unless the guild already has that character; True if it was added."""
    outcome = await session.execute(
        "INSERT INTO characters (guild_id, character_id, task_id, job_id, display_name, "
        "name_key, username, username_key, avatar, avatar_mime, creator_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (guild_id, character_id) DO NOTHING",
        (
            new.guild_id,
            new.character_id,
            new.task_id,
            job_id,
            new.display_name,
            search_key(new.display_name),
            new.username,
            search_key(new.username),
            new.avatar,
            new.avatar_mime,
            creator_id,
            now,
        ),
    )
    return outcome.rowcount > 0


async def characters_of_job(session: Session | Database, job_id: int) -> list[Character]:
    """Every character stored for a job, oldest first, with avatars."""
    rows = await session.fetchall(
        f"{SELECT_CHARACTERS_WITH_AVATAR} WHERE job_id = ? ORDER BY id",
        (job_id,),
    )
    return [row_to_character(row) for row in rows]


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")


class CharacterRepository:
    """Reads and edits the characters of each guild."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def list_for_guild(
        self,
        guild_id: int,
        *,
        limit: int = 10,
        offset: int = 0,
        creator_id: int | None = None,
    ) -> list[Character]:
        """One page of a guild's characters, newest first, without avatar bytes.

        With ``creator_id``, only the characters that user made.
        """
        _check_page(limit, offset)
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS} WHERE guild_id = ? AND {BY_CREATOR} {NEWEST_FIRST} "
            "LIMIT ? OFFSET ?",
            (guild_id, creator_id, creator_id, limit, offset),
        )
        return [row_to_character(row) for row in rows]

    async def count_for_guild(self, guild_id: int, *, creator_id: int | None = None) -> int:
        """How many characters a guild has (or that one of its users made)."""
        row = await self._db.fetchone(
            "SELECT count(*) FROM characters WHERE guild_id = ? AND (? IS NULL OR creator_id = ?)",
            (guild_id, creator_id, creator_id),
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
        return row_to_character(row) if row is not None else None

    async def for_job(self, job_id: int) -> list[Character]:
        """Every character stored for a job, oldest first, with avatars."""
        return await characters_of_job(self._db, job_id)

    async def unannounced_for_job(self, job_id: int) -> list[Character]:
        """The characters of a job not yet announced, oldest first, with avatars."""
        rows = await self._db.fetchall(
            f"{SELECT_CHARACTERS_WITH_AVATAR} "
            "WHERE job_id = ? AND announced_at IS NULL ORDER BY id",
            (job_id,),
        )
        return [row_to_character(row) for row in rows]

    async def mark_announced(self, row_id: int) -> None:
        """Record that a character was announced (the first time only)."""
        await self._db.execute(
            "UPDATE characters SET announced_at = ? WHERE id = ? AND announced_at IS NULL",
            (time.time(), row_id),
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
