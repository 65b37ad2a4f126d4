"""Webhook events received (at-least-once delivery): each is stored before it is acted on
and marked handled once applied, so an event whose apply failed is applied again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from storage.database import Database

# new: first delivery; unhandled: stored before, not applied yet; handled: nothing to do.
Receipt = Literal["new", "unhandled", "handled"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event stored but not handled yet."""

    event_id: str
    type: str
    task: str | None  # what the event said about its task (JSON), None: no task


class WebhookEventRepository:
    """Remembers event ids, what they said, and whether they were applied."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def receive(
        self, event_id: str, kind: str, task_id: str | None, task: str | None = None
    ) -> Receipt:
        """Store the event unless it is stored already; whether it still needs applying."""
        outcome = await self._db.execute(
            "INSERT INTO webhook_events (event_id, type, task_id, task, received_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (event_id, kind, task_id, task, time.time()),
        )
        if outcome.rowcount == 1:
            return "new"
        row = await self._db.fetchone(
            "SELECT handled_at FROM webhook_events WHERE event_id = ?", (event_id,)
        )
        return "unhandled" if row is not None and row["handled_at"] is None else "handled"

    async def handled(self, event_id: str) -> None:
        """The event was applied: a delivery again is a duplicate."""
        await self._db.execute(
            "UPDATE webhook_events SET handled_at = ? WHERE event_id = ?",
            (time.time(), event_id),
        )

    async def unhandled(self) -> list[StoredEvent]:
        """Events stored but not applied (the process stopped, or applying failed)."""
        rows = await self._db.fetchall(
            "SELECT event_id, type, task FROM webhook_events WHERE handled_at IS NULL "
            "ORDER BY received_at"
        )
        return [StoredEvent(str(r["event_id"]), str(r["type"]), r["task"]) for r in rows]

    async def last_received(self) -> float | None:
        """When the newest event arrived (None: never)."""
        row = await self._db.fetchone("SELECT MAX(received_at) AS t FROM webhook_events")
        return float(row["t"]) if row is not None and row["t"] is not None else None
