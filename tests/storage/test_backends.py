"""What both backends must do alike (lifecycle, usage, webhooks, settings), and what
only PostgreSQL has to get right: its placeholders, schema checks and shared migrations."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from bot.domain.records import JobState, NewCharacter, NewJob, SourceKind
from storage import (
    Database,
    JobRepository,
    RetentionRepository,
    StorageError,
    UsageRepository,
    open_database,
)
from storage.guild_settings import GuildSettingsRepository
from storage.postgres.database import redact, schema_version, to_postgres
from storage.schema import SCHEMA_VERSION
from storage.webhooks import StoredEvent, WebhookEventRepository
from tests.storage.backends import postgres_schema, skip_without_postgres


def job(guild_id: int, requester_id: int | None) -> NewJob:
    return NewJob(
        guild_id=guild_id,
        source_kind=SourceKind.URL,
        source_ref="https://example.com/a.mp4",
        range_start=0.0,
        range_end=2.0,
        model="sora-2",
        requester_id=requester_id,
    )


def character(guild_id: int, character_id: str) -> NewCharacter:
    return NewCharacter(
        guild_id=guild_id,
        character_id=character_id,
        task_id="t",
        display_name=f"Name {character_id}",
        username=f"user.{character_id}",
    )


async def test_webhook_events_are_acted_on_once(db: Database) -> None:
    events = WebhookEventRepository(db)
    assert await events.last_received() is None
    said = '{"id": "task-1", "status": "completed"}'
    assert await events.receive("evt_1", "generation.completed", "task-1", said) == "new"
    # Delivered again before it was applied (applying failed, or the process stopped):
    # it still needs applying, and is found at start-up with what it said.
    assert await events.receive("evt_1", "generation.completed", "task-1", said) == "unhandled"
    assert await events.unhandled() == [StoredEvent("evt_1", "generation.completed", said)]
    await events.handled("evt_1")
    assert await events.receive("evt_1", "generation.completed", "task-1", said) == "handled"
    assert await events.unhandled() == []
    assert await events.last_received() is not None
    # Handled events go after the retention period; one not applied yet stays.
    await events.receive("evt_2", "generation.completed", "task-2", said)
    lifecycle = RetentionRepository(db)
    assert await lifecycle.prune_webhook_events(time.time() - 60) == 0
    assert await lifecycle.prune_webhook_events(time.time() + 60) == 1
    assert [e.event_id for e in await events.unhandled()] == ["evt_2"]


async def test_usage_counts_accepted_and_failed_jobs(db: Database) -> None:
    jobs = JobRepository(db)
    for requester, state in ((7, JobState.COMPLETED), (7, JobState.FAILED), (8, JobState.QUEUED)):
        created = await jobs.create(job(1, requester))
        await jobs.set_submitted(created.id, f"task-{created.id}", state, 0)
    await jobs.create(job(1, 9))  # never accepted: not counted
    counts = await UsageRepository(db).since(0.0)
    assert [(c.requester_id, c.jobs, c.failed) for c in counts] == [(7, 2, 1), (8, 1, 0)]
    assert await UsageRepository(db).since(0.0, guild_id=2) == []


async def test_guild_presence_purge_and_forgetting(db: Database) -> None:
    lifecycle = RetentionRepository(db)
    jobs = JobRepository(db)
    done = await jobs.create(job(1, 7))
    await jobs.complete(done.id, [character(1, "ch_1")])
    await jobs.create(job(2, 7))
    assert await lifecycle.mark_left([1], 100.0) == [1]
    assert await lifecycle.mark_left([1], 200.0) == []  # the first leave time is kept
    assert await lifecycle.left_at(1) == 100.0
    assert await lifecycle.known_guilds() == {1, 2}
    assert await lifecycle.member_footprint(1, 7) == (1, 1)
    assert await lifecycle.forget_member(1, 7, delete_characters=False) == (1, 1)
    assert await lifecycle.member_footprint(1, 7) == (0, 0)
    assert await lifecycle.left_before(150.0) == [1]
    assert await lifecycle.purge_guild(1, 50.0) is None
    assert await lifecycle.purge_guild(1, 150.0) == (1, 1)
    assert await lifecycle.known_guilds() == {2}
    assert await lifecycle.mark_present([2, 3]) == []


async def test_settings_round_trip_any_json(db: Database) -> None:
    settings = GuildSettingsRepository(db)
    await settings.set_many(1, {"b": [1, "two"], "a": {"x": None}})
    await settings.set(1, "b", 3)
    assert await settings.get_all(1) == {"a": {"x": None}, "b": 3}
    assert await settings.delete(1, "a") is True
    assert await settings.delete(1, "a") is False


def test_placeholders_become_numbered_outside_quotes() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE ? ESCAPE '\\' AND c = ?"
    assert to_postgres(sql) == (
        "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b LIKE $2 ESCAPE '\\' AND c = $3"
    )


def test_passwords_never_reach_messages() -> None:
    assert redact("postgresql://bot:s3cret@db:5432/bot") == "postgresql://bot:***@db:5432/bot"
    assert redact("postgresql://bot@db/bot") == "postgresql://bot@db/bot"


async def test_postgres_schema_with_other_tables_is_refused() -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE notes (body TEXT)")
        await conn.close()
        with pytest.raises(StorageError, match="do not belong to this bot"):
            await open_database(url)
        assert await schema_version(url) is None


async def test_postgres_from_newer_bot_is_refused() -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        await (await open_database(url)).close()
        assert await schema_version(url) == SCHEMA_VERSION
        conn = await asyncpg.connect(url)
        await conn.execute("UPDATE bot_schema SET version = version + 1")
        await conn.close()
        with pytest.raises(StorageError, match="newer version of the bot"):
            await open_database(url)


async def test_postgres_plans_each_statement_with_its_parameters() -> None:
    skip_without_postgres()
    async with postgres_schema() as url, await open_database(url) as db:
        row = await db.fetchone("SELECT current_setting('plan_cache_mode') AS mode")
        assert row is not None and row["mode"] == "force_custom_plan"
        row = await db.fetchone("SELECT current_schema() AS name")
        assert row is not None and row["name"].startswith("test_")  # URL settings kept


async def test_several_processes_open_and_migrate_postgres_at_once() -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        opened = await asyncio.gather(*(open_database(url, pool_size=2) for _ in range(4)))
        try:
            ids = await asyncio.gather(
                *(JobRepository(db).create(job(1, n)) for n, db in enumerate(opened))
            )
            assert len({j.id for j in ids}) == 4
        finally:
            for db in opened:
                await db.close()
        assert await schema_version(url) == SCHEMA_VERSION


async def test_unreachable_postgres_says_where() -> None:
    with pytest.raises(StorageError, match=r"postgresql://bot:\*\*\*@127.0.0.1:1/x"):
        await open_database("postgresql://bot:pw@127.0.0.1:1/x")
