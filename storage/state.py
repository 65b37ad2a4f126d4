"""A tiny key-value store for the bot's own bookkeeping (not per-guild settings)."""

from __future__ import annotations

from storage.database import Database

# The hash of the slash commands last synced (the bot re-syncs when it differs or is gone).
COMMANDS_HASH_KEY = "commands_hash"


class StateRepository:
    """Reads and writes `bot_state` entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        """The value stored under `key`, or None."""
        row = await self._db.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        """Store `value` under `key`, replacing any earlier value."""
        await self._db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> bool:
        """Forget the value stored under `key`; False if there was none."""
        outcome = await self._db.execute("DELETE FROM bot_state WHERE key = ?", (key,))
        return outcome.rowcount > 0
