"""`admin migrate-to`'s copy: a seeded SQLite database reads the same from PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.domain.records import JobState, NewCharacter, NewJob, SourceKind
from storage import (
    CharacterRepository,
    Database,
    JobRepository,
    RetentionRepository,
    StateRepository,
    StorageError,
    UsageRepository,
    open_database,
)
from storage import characters as characters_module
from storage.copy_to_postgres import copy_sqlite_to_postgres
from storage.guild_settings import GuildSettingsRepository
from storage.webhooks import WebhookEventRepository
from tests.storage.backends import postgres_schema, skip_without_postgres

GUILDS = (1, 2**62 + 5)  # Discord ids need 64 bits


def new_job(guild_id: int, n: int) -> NewJob:
    return NewJob(
        guild_id=guild_id,
        source_kind=SourceKind.URL,
        source_ref=f"https://example.com/{n}.mp4",
        range_start=0.5,
        range_end=2.5,
        model="sora-2",
        channel_id=10,
        requester_id=100 + n % 3,
        request={"n": n},
        meta={"title": f"Clip ✨ {n}"},
    )


async def seed(path: Path) -> None:
    """Every table gets rows: jobs in several states, characters (shared by two jobs),
    settings, state, webhook events, a guild the bot left."""
    async with await open_database(path) as db:
        jobs = JobRepository(db)
        for guild in GUILDS:
            for n in range(6):
                job = await jobs.create(new_job(guild, n))
                if n % 3 == 0:
                    continue
                await jobs.set_submitted(job.id, f"task-{guild}-{n}", JobState.QUEUED, 5)
                if n % 3 == 1:
                    await jobs.update_status(job.id, JobState.FAILED, 0, error_code="x")
                    continue
                made = NewCharacter(
                    guild_id=guild,
                    character_id=f"ch_{n}",
                    task_id=f"task-{guild}-{n}",
                    display_name=f"Straße {n}",
                    username=f"user.{n}",
                    avatar=bytes(range(256)) * 4,
                    avatar_mime="image/png",
                )
                shared = NewCharacter(
                    guild_id=guild, character_id="ch_shared", task_id="t", display_name="Shared",
                    username="shared",
                )  # fmt: skip
                await jobs.complete(job.id, [made, shared])
        await GuildSettingsRepository(db).set_many(1, {"language": "fr", "limits": [1, 2]})
        await StateRepository(db).set("commands_hash", "abc")
        events = WebhookEventRepository(db)
        await events.receive("evt_1", "generation.completed", "task-1-2", '{"id": "task-1-2"}')
        await events.handled("evt_1")
        await events.receive("evt_2", "generation.failed", "task-1-3", '{"id": "task-1-3"}')
        await RetentionRepository(db).mark_left([GUILDS[1]], 123.0)


async def snapshot(db: Database) -> dict[str, object]:
    """What the repositories read back, for comparing two backends."""
    jobs = JobRepository(db)
    characters = CharacterRepository(db)
    out: dict[str, object] = {
        "counts": await jobs.count_by_state(),
        "characters": await characters.count_all(),
        "usage": await UsageRepository(db).since(0.0),
        "settings": await GuildSettingsRepository(db).get_all(1),
        "state": await StateRepository(db).get("commands_hash"),
        "left": await RetentionRepository(db).left_at(GUILDS[1]),
        "known": await RetentionRepository(db).known_guilds(),
    }
    for guild in GUILDS:
        out[f"jobs {guild}"] = await jobs.list_for_guild(guild, limit=100)
        out[f"characters {guild}"] = await characters.all_for_guild(guild)
        out[f"count {guild}"] = await characters.count_for_guild(guild)
        out[f"search {guild}"] = await characters.search(guild, "strasse")
        out[f"substring {guild}"] = await characters.search(guild, "asse 5")
        for job in await jobs.list_for_guild(guild, limit=100):
            out[f"job {job.id}"] = await characters.for_job(job.id)
    return out


async def test_seeded_database_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    skip_without_postgres()
    path = tmp_path / "bot.sqlite3"
    await seed(path)
    async with await open_database(path) as db:
        before = await snapshot(db)
    assert before["substring 1"] and before["search 1"] and before["job 3"]
    async with postgres_schema() as url:
        copied = await copy_sqlite_to_postgres(path, url)
        assert copied["jobs"] == 12 and copied["characters"] == 6
        assert copied["job_characters"] == 2 and copied["character_counts"] == 2
        assert set(copied) >= {"bot_state", "guild_settings", "webhook_events", "guild_presence"}
        async with await open_database(url) as pg:
            assert await snapshot(pg) == before
            # The search twin was filled by its trigger as the characters were copied.
            twins = await pg.fetchone("SELECT count(*) FROM character_keys")
            assert twins is not None and twins[0] == 6
            monkeypatch.setattr(characters_module, "SMALL_GUILD", 0)  # its trigram index
            assert await snapshot(pg) == before
            monkeypatch.undo()
            # New rows continue after the copied ids; events handled stay handled, those
            # not handled yet are applied by the PostgreSQL bot.
            job = await JobRepository(pg).create(new_job(1, 99))
            assert job.id == 13
            events = WebhookEventRepository(pg)
            assert await events.receive("evt_1", "x", None) == "handled"
            [pending] = await events.unhandled()
            assert (pending.event_id, pending.task) == ("evt_2", '{"id": "task-1-3"}')
        with pytest.raises(StorageError, match="already holds jobs"):
            await copy_sqlite_to_postgres(path, url)


async def test_missing_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="there is no database"):
        await copy_sqlite_to_postgres(tmp_path / "none.sqlite3", "postgresql://x@127.0.0.1:1/x")


async def test_source_is_left_unchanged(tmp_path: Path) -> None:
    skip_without_postgres()
    path = tmp_path / "bot.sqlite3"
    await seed(path)
    before = path.read_bytes()
    async with postgres_schema() as url:
        await copy_sqlite_to_postgres(path, url)
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
