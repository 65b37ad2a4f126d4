"""Webhook events already received (at-least-once delivery: each is acted on once)."""

from __future__ import annotations

import time

from storage.database import Database


class WebhookEventRepository:
    """Remembers event ids."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_time(self, event_id: str, kind: str, task_id: str | None) -> bool:
        """Record the event; True if it had not been received before."""
        outcome = await self._db.execute(
            "INSERT INTO webhook_events (event_id, type, task_id, received_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event_id, kind, task_id, time.time()),
        )
        return outcome.rowcount == 1

    async def last_received(self) -> float | None:
        """When the newest event arrived (None: never)."""
        row = await self._db.fetchone("SELECT MAX(received_at) AS t FROM webhook_events")
        return float(row["t"]) if row is not None and row["t"] is not None else None
