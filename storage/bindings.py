"""A character's likeness and its bindings to engines (Sora, Seedance, Vidu).

The likeness itself (clip and stills) lives in the likeness store; a row keeps where
(`characters.likeness`) and the stills' uploaded URLs. A binding row is one engine's view of
a character, written as it is made and replaced when made again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from bot.domain.records import Binding, BindingState
from storage.database import Database, Row


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def row_to_binding(row: Row) -> Binding:
    """A Binding from a `character_bindings` row."""
    try:
        data = json.loads(row["data"])
    except ValueError:
        data = {}
    return Binding(
        engine=row["engine"],
        state=BindingState(row["state"]),
        data=data if isinstance(data, dict) else {},
        reason=row["reason"],
        updated_at=row["updated_at"],
    )


class BindingRepository:
    """Reads and writes what makes a character work on each engine."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def of(self, row_id: int) -> dict[str, Binding]:
        """The bindings of one character (by row id), by engine."""
        found = await self.of_many([row_id])
        return found.get(row_id, {})

    async def of_many(self, row_ids: Iterable[int]) -> dict[int, dict[str, Binding]]:
        """The bindings of several characters, by row id and engine (absent: none)."""
        ids = sorted(set(row_ids))
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = await self._db.fetchall(
            "SELECT character_row, engine, state, data, reason, updated_at "  # noqa: S608
            f"FROM character_bindings WHERE character_row IN ({marks}) ORDER BY engine",
            tuple(ids),
        )
        found: dict[int, dict[str, Binding]] = {}
        for row in rows:
            binding = row_to_binding(row)
            found.setdefault(int(row["character_row"]), {})[binding.engine] = binding
        return found

    async def put(self, row_id: int, binding: Binding) -> Binding:
        """Store one engine's binding of a character, replacing the one before; the
        binding as stored (its time set now). Nothing when the character is gone."""
        now = time.time()
        await self._db.execute(
            "INSERT INTO character_bindings (character_row, engine, state, data, reason, "
            "updated_at) SELECT id, ?, ?, ?, ?, ? FROM characters WHERE id = ? "
            "ON CONFLICT (character_row, engine) DO UPDATE SET state = excluded.state, "
            "data = excluded.data, reason = excluded.reason, updated_at = excluded.updated_at",
            (
                binding.engine,
                binding.state.value,
                _json(binding.data),
                binding.reason,
                now,
                row_id,
            ),
        )
        return Binding(binding.engine, binding.state, binding.data, binding.reason, now)

    async def drop(self, row_id: int, engine: str) -> bool:
        """Forget one engine's binding (made again when next needed)."""
        outcome = await self._db.execute(
            "DELETE FROM character_bindings WHERE character_row = ? AND engine = ?",
            (row_id, engine),
        )
        return outcome.rowcount > 0

    async def set_likeness(self, row_id: int, key: str | None) -> bool:
        """Record where a character's likeness is kept (None: it has none any more)."""
        outcome = await self._db.execute(
            "UPDATE characters SET likeness = ? WHERE id = ?", (key, row_id)
        )
        return outcome.rowcount > 0

    async def set_still_urls(self, row_id: int, urls: list[str]) -> bool:
        """Record the stills' uploaded URLs (empty: upload them again when next needed)."""
        outcome = await self._db.execute(
            "UPDATE characters SET still_urls = ? WHERE id = ?",
            (_json(urls) if urls else None, row_id),
        )
        return outcome.rowcount > 0

    async def likenesses_of_creator(self, guild_id: int, creator_id: int) -> list[str]:
        """Where the likenesses of a member's characters in a guild are kept (to delete
        them with the characters)."""
        rows = await self._db.fetchall(
            "SELECT likeness FROM characters WHERE guild_id = ? AND creator_id = ? "
            "AND likeness IS NOT NULL",
            (guild_id, creator_id),
        )
        return [str(row["likeness"]) for row in rows]

    async def likeness_in_use(self, key: str) -> bool:
        """Whether a character still keeps its likeness at `key` (several characters of
        one task share their job's)."""
        row = await self._db.fetchone("SELECT 1 FROM characters WHERE likeness = ? LIMIT 1", (key,))
        return row is not None

    async def keep_likeness(self, row_id: int, key: str) -> bool:
        """Record a likeness for a character that had none ("Add the likeness")."""
        outcome = await self._db.execute(
            "UPDATE characters SET likeness = ? WHERE id = ? AND likeness IS NULL", (key, row_id)
        )
        return outcome.rowcount > 0
