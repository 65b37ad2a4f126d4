"""Settings changed in one process reach the others at once (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.policy.guild_settings import SettingsService
from bot.policy.owner_controls import OwnerControls
from bot.runtime.container import follow_changes
from storage import Database, StateRepository, open_database
from storage.guild_settings import GuildSettingsRepository
from storage.postgres.notices import ChangeNotices, change_notices
from tests.storage.backends import postgres_schema, postgres_url, skip_without_postgres


@dataclass
class Process:
    """What one bot process caches, over its own database connections."""

    db: Database
    notices: ChangeNotices
    settings: SettingsService
    owner: OwnerControls


@contextlib.asynccontextmanager
async def processes(url: str, count: int = 2) -> AsyncIterator[list[Process]]:
    opened: list[Process] = []
    try:
        for _ in range(count):
            db = await open_database(url)
            notices = change_notices(db)
            assert notices is not None
            process = Process(
                db,
                notices,
                SettingsService(GuildSettingsRepository(db), notices),
                OwnerControls(StateRepository(db), notices),
            )
            opened.append(process)
            await follow_changes(notices, process.settings, process.owner)
        yield opened
    finally:
        for process in opened:
            await process.notices.close()
            await process.db.close()


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_guild_setting_changed_in_one_process_is_seen_by_the_other() -> None:
    skip_without_postgres()
    async with postgres_schema() as url, processes(url) as (first, second):
        assert (await second.settings.get(1)).auto_react is False  # cached there now
        await first.settings.set(1, auto_react=True, jobs_at_once=4)

        async def seen() -> bool:
            got = await second.settings.get(1)
            return got.auto_react and got.jobs_at_once == 4

        await until(seen, "the other process to see the change")
        assert (await first.settings.get(1)).auto_react  # the writer kept its own copy


async def test_owner_controls_changed_in_one_process_are_seen_by_the_other() -> None:
    skip_without_postgres()
    async with postgres_schema() as url, processes(url) as (first, second):
        assert (await second.owner.get()).paused is None
        await first.owner.change(paused="Back soon.")
        await first.owner.block(user=42)

        async def seen() -> bool:
            got = await second.owner.get()
            return got.paused == "Back soon." and 42 in got.blocked_users

        await until(seen, "the other process to see the owner's change")


async def test_after_a_lost_connection_every_cached_entry_is_read_again() -> None:
    skip_without_postgres()
    async with postgres_schema() as url, processes(url) as (first, second):
        assert (await second.settings.get(7)).jobs_at_once == 2
        # Written behind the services' backs: no notice, as if it had been lost.
        await GuildSettingsRepository(first.db).set_many(7, {"jobs_at_once": 5})
        assert (await second.settings.get(7)).jobs_at_once == 2  # stale, as expected

        server = await asyncpg.connect(postgres_url())
        try:
            killed = await server.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND query LIKE '%' || $1 || '%'",
                second.notices.channel,
            )
        finally:
            await server.close()
        assert killed == 2  # both processes listen on the channel

        async def reconnected() -> bool:
            return second.notices.connections >= 2

        await until(reconnected, "the listener to reconnect")
        assert (await second.settings.get(7)).jobs_at_once == 5

        # And notices flow again on the new connection.
        await first.settings.set(7, jobs_at_once=6)

        async def seen() -> bool:
            return (await second.settings.get(7)).jobs_at_once == 6

        await until(seen, "a notice on the new connection", within=10)


async def test_schemas_of_one_database_do_not_hear_each_other(tmp_path: Path) -> None:
    async with await open_database(tmp_path / "bot.db") as db:
        assert change_notices(db) is None  # one process: nothing to tell
    skip_without_postgres()
    async with (
        postgres_schema() as one,
        postgres_schema() as two,
        processes(one, 1) as (a,),
        processes(two, 1) as (b,),
    ):
        assert a.notices.channel and b.notices.channel
        assert a.notices.channel != b.notices.channel
