"""How characters are stored as rows: the column lists and query heads, the row -> record
mapping, and the writes a job makes inside its own transaction (see `storage.jobs`)."""

from __future__ import annotations

import json

from bot.domain.records import Character, NewCharacter
from storage.database import Database, Row, Session

# Columns of a Character, without the avatar bytes (those can be large).
CHARACTER_COLUMNS = (
    "id, guild_id, character_id, task_id, job_id, display_name, username, "
    "creator_id, created_at, announced_at, avatar_mime, likeness, still_urls"
)
CHARACTER_COLUMNS_WITH_AVATAR = CHARACTER_COLUMNS + ", avatar"

# Constant query heads; callers only append constant clauses with ? placeholders.
SELECT_CHARACTERS = f"SELECT {CHARACTER_COLUMNS} FROM characters"  # noqa: S608
SELECT_CHARACTERS_WITH_AVATAR = f"SELECT {CHARACTER_COLUMNS_WITH_AVATAR} FROM characters"  # noqa: S608

# Optional filters, added only when used (an "? IS NULL OR ..." test would keep the
# planner from using an index for them): bind the creator id, or (created_at, id) of
# the last row seen for a keyset cursor.
BY_CREATOR = "AND creator_id = ?"
BEFORE = "AND (created_at, id) < (?, ?)"

# Newest first; id breaks ties between characters stored in the same instant.
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


def search_key(text: str) -> str:
    """The case-insensitive form of a name, stored next to it for searching."""
    return text.casefold()


def row_to_character(row: Row) -> Character:
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
        likeness=row["likeness"],
        still_urls=tuple(json.loads(row["still_urls"])) if row["still_urls"] else (),
    )


async def insert_character(
    session: Session,
    new: NewCharacter,
    *,
    job_id: int | None,
    creator_id: int | None,
    now: float,
) -> bool:
    """Store ``new`` unless the guild already has that character; True if it was added.

    A character the guild got from an earlier job is linked to ``job_id`` instead, so
    that this job shows it too.
    """
    outcome = await session.execute(
        "INSERT INTO characters (guild_id, character_id, task_id, job_id, display_name, "
        "name_key, username, username_key, avatar, avatar_mime, creator_id, created_at, "
        "likeness) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
            new.likeness,
        ),
    )
    if outcome.rowcount > 0:
        for binding in new.bindings:
            await session.execute(
                "INSERT INTO character_bindings (character_row, engine, state, data, reason, "
                "updated_at) SELECT id, ?, ?, ?, ?, ? FROM characters "
                "WHERE guild_id = ? AND character_id = ?",
                (
                    binding.engine,
                    binding.state.value,
                    json.dumps(binding.data, separators=(",", ":"), sort_keys=True),
                    binding.reason,
                    now,
                    new.guild_id,
                    new.character_id,
                ),
            )
        return True
    if job_id is not None:
        await session.execute(
            "INSERT INTO job_characters (job_id, character_row) "
            "SELECT CAST(? AS BIGINT), id FROM characters WHERE guild_id = ? "
            "AND character_id = ? AND (job_id IS NULL OR job_id <> ?) ON CONFLICT DO NOTHING",
            (job_id, new.guild_id, new.character_id, job_id),
        )
    return False


async def characters_of_job(session: Session | Database, job_id: int) -> list[Character]:
    """Every character of a job (its own and those the guild had already), oldest first."""
    rows = await session.fetchall(
        f"{SELECT_CHARACTERS_WITH_AVATAR} WHERE job_id = ? OR id IN "  # noqa: S608
        "(SELECT character_row FROM job_characters WHERE job_id = ?) ORDER BY id",
        (job_id, job_id),
    )
    return [row_to_character(row) for row in rows]
