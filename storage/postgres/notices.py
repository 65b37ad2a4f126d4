"""Change notices between the processes sharing one PostgreSQL database (LISTEN/NOTIFY).

A process that changes something the others cache (a guild's settings, the owner's
controls) publishes a notice after the write; every other process drops that entry and
reads it again on next use. Notices travel on one channel per database and schema (its
name is a hash of both, so two bots, or two tests, in one database never hear each
other), listened to on a connection of its own. A notice sent while that connection is
down is lost, so after every (re)connection the listener is told to drop everything.

A SQLite file has one process: `change_notices` is None there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from bot.stopping import cancel_and_wait
from storage.database import Database, StorageError
from storage.postgres.database import PostgresDatabase

log = logging.getLogger(__name__)

OnNotice = Callable[[str, str], None]  # (topic, key)
OnReset = Callable[[], None]

RETRY_MIN = 0.5  # seconds before reconnecting, doubled up to RETRY_MAX while it fails
RETRY_MAX = 30.0
PING = 15.0  # seconds between checks that a quiet listening connection still works


class ChangeNotices:
    """Publishes this process's changes and follows the others' (PostgreSQL)."""

    def __init__(self, db: PostgresDatabase) -> None:
        """Use `db` to publish, and a connection of its own to listen."""
        self._db = db
        self.sender = uuid.uuid4().hex[:16]  # this process: its own notices are skipped
        self.channel: str | None = None
        self.connections = 0  # times the listener (re)connected
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def _channel(self) -> str:
        if self.channel is None:
            row = await self._db.fetchone(
                "SELECT 'sora_' || left(md5(current_database() || '.' || current_schema()), 24)"
            )
            assert row is not None
            self.channel = str(row[0])
        return self.channel

    async def publish(self, topic: str, key: str = "") -> None:
        """Tell the other processes that `key` of `topic` changed (after the write)."""
        payload = json.dumps([self.sender, topic, key])
        await self._db.execute("SELECT pg_notify(?, ?)", (await self._channel(), payload))

    async def listen(self, on_notice: OnNotice, on_reset: OnReset, *, wait: float = 10.0) -> None:
        """Follow the other processes' notices in the background, reconnecting as needed;
        returns once listening (or after `wait` seconds, still trying)."""
        if self._task is not None:
            raise RuntimeError("already listening")
        channel = await self._channel()
        self._task = asyncio.create_task(self._follow(channel, on_notice, on_reset))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), wait)

    async def close(self) -> None:
        """Stop listening. Safe to call twice."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def _handler(self, on_notice: OnNotice) -> Callable[[Any, int, str, str], None]:
        def received(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                sender, topic, key = json.loads(payload)
            except (ValueError, TypeError):
                log.warning("change notice not understood: %r", payload[:200])
                return
            if sender != self.sender:
                on_notice(str(topic), str(key))

        return received

    async def _follow(self, channel: str, on_notice: OnNotice, on_reset: OnReset) -> None:
        delay = RETRY_MIN
        while True:
            try:
                conn = await self._db.connect()
            except StorageError as exc:
                log.warning("change notices: %s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            try:
                await self._listen_on(conn, channel, on_notice, on_reset)
                delay = RETRY_MIN
                log.warning("change notices: the listening connection was lost; reconnecting")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("change notices: %s; reconnecting", exc)
            finally:
                self._listening.clear()
                conn.terminate()
            await asyncio.sleep(delay)

    async def _listen_on(
        self, conn: Any, channel: str, on_notice: OnNotice, on_reset: OnReset
    ) -> None:
        """Listen on `conn` until it closes or stops answering."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(channel, self._handler(on_notice))
        self.connections += 1
        on_reset()  # whatever changed while nobody listened is read again
        self._listening.set()
        await _until_lost(conn, lost)


async def _until_lost(conn: Any, lost: asyncio.Event) -> None:
    """Return when the connection closes or stops answering."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lost.wait(), PING)
            return
        try:
            await asyncio.wait_for(conn.fetchval("SELECT 1"), PING)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return


def change_notices(db: Database) -> ChangeNotices | None:
    """Notices between the processes sharing `db`, or None when it has one process."""
    return ChangeNotices(db) if isinstance(db, PostgresDatabase) else None
