"""Per-guild settings as raw JSON values; their names, types and defaults live in ``bot``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from storage.database import Database

log = logging.getLogger(__name__)


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class GuildSettingsRepository:
    """Reads and writes the ``guild_settings`` rows of each guild."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def get_all(self, guild_id: int) -> dict[str, Any]:
        """Every setting stored for a guild, decoded (a value that is not JSON is skipped)."""
        rows = await self._db.fetchall(
            "SELECT key, value FROM guild_settings WHERE guild_id = ? ORDER BY key",
            (guild_id,),
        )
        values: dict[str, Any] = {}
        for row in rows:
            try:
                values[str(row["key"])] = json.loads(row["value"])
            except ValueError:
                log.warning("guild %d: setting %r is not valid JSON; ignored", guild_id, row["key"])
        return values

    async def set(self, guild_id: int, key: str, value: Any) -> None:
        """Store one setting (any JSON-serialisable value), replacing an earlier one."""
        await self.set_many(guild_id, {key: value})

    async def set_many(self, guild_id: int, values: Mapping[str, Any]) -> None:
        """Store several settings of a guild at once: all of them or, on error, none."""
        encoded = [(key, _to_json(value)) for key, value in values.items()]
        async with self._db.transaction() as tx:
            for key, value in encoded:
                await tx.execute(
                    "INSERT INTO guild_settings (guild_id, key, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (guild_id, key) DO UPDATE SET value = excluded.value",
                    (guild_id, key, value),
                )

    async def delete(self, guild_id: int, key: str) -> bool:
        """Forget one setting (back to its default); False if it was not stored."""
        outcome = await self._db.execute(
            "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
        )
        return outcome.rowcount > 0
