"""Behaviour of the storage package against real SQLite files."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.domain.records import Character, Job, JobState, NewCharacter, NewJob, SourceKind
from storage import (
    CharacterRepository,
    Database,
    JobRepository,
    NotFoundError,
    StateRepository,
    StorageError,
    open_database,
)
from storage.schema import APPLICATION_ID
from storage.sqlite.migrations import MIGRATIONS, split_statements


class Clock:
    """A controllable stand-in for time.time()."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(time, "time", fake)
    yield fake


@pytest.fixture
def jobs(db: Database) -> JobRepository:
    return JobRepository(db)


@pytest.fixture
def characters(db: Database) -> CharacterRepository:
    return CharacterRepository(db)


def new_job(guild_id: int = 1, requester_id: int | None = 100) -> NewJob:
    return NewJob(
        guild_id=guild_id,
        source_kind=SourceKind.URL,
        source_ref="https://example.com/clip.mp4",
        range_start=1.5,
        range_end=4.0,
        model="sora-2",
        channel_id=10,
        requester_id=requester_id,
        request={"url": "https://example.com/clip.mp4", "timestamps": "1.5,4.0"},
        meta={"title": "Clip ✨"},
    )


def new_character(
    character_id: str,
    guild_id: int = 1,
    *,
    display_name: str = "Hero",
    creator_id: int | None = None,
    avatar: bytes | None = b"\x89PNG fake",
) -> NewCharacter:
    return NewCharacter(
        guild_id=guild_id,
        character_id=character_id,
        task_id="task-1",
        display_name=display_name,
        username=f"User.{character_id}",
        avatar=avatar,
        avatar_mime="image/png" if avatar else None,
        creator_id=creator_id,
    )


async def stored_character(
    jobs: JobRepository,
    guild_id: int,
    character_id: str,
    *,
    display_name: str = "Hero",
    creator_id: int | None = None,
) -> Character:
    """Store one character through a completed job and return it."""
    job = await jobs.create(new_job(guild_id))
    character = new_character(
        character_id, guild_id, display_name=display_name, creator_id=creator_id
    )
    stored = await jobs.complete(job.id, [character])
    return stored[0]


def read_header(path: Path) -> tuple[int, int, list[str]]:
    """application_id, user_version and table names, read without our code."""
    conn = sqlite3.connect(path)
    try:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")
        ]
        return app, version, tables
    finally:
        conn.close()


def schema_of(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


# --- opening and migrating -------------------------------------------------------


async def test_open_creates_folder_and_migrates_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "bot.db"
    db = await open_database(str(path))
    await db.close()
    app, version, tables = read_header(path)
    assert app == APPLICATION_ID
    assert version == len(MIGRATIONS)
    assert {"jobs", "characters"} <= set(tables)


async def test_reopening_changes_nothing_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_database(path)
    job = await JobRepository(db).create(new_job())
    await db.close()
    schema_before = schema_of(path)

    db = await open_database(path)
    try:
        assert await JobRepository(db).get(job.id) == job
    finally:
        await db.close()
    assert schema_of(path) == schema_before
    assert read_header(path)[:2] == (APPLICATION_ID, len(MIGRATIONS))


async def test_wal_is_on_for_sqlite(tmp_path: Path) -> None:
    async with await open_database(tmp_path / "bot.db") as db:
        row = await db.fetchone("PRAGMA journal_mode")
    assert row is not None and row[0] == "wal"


async def test_foreign_keys_are_on(db: Database, jobs: JobRepository) -> None:
    # Deleting a job keeps its characters but forgets the link.
    character = await stored_character(jobs, 1, "ch_1")
    await db.execute("DELETE FROM jobs WHERE id = ?", (character.job_id,))
    kept = await CharacterRepository(db).get(1, "ch_1")
    assert kept is not None and kept.job_id is None


async def test_not_a_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 10)
    with pytest.raises(StorageError, match="not a SQLite database") as info:
        await open_database(path)
    assert str(path) in str(info.value)
    assert path.read_text().startswith("these are my notes")


async def test_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="does not belong to this bot") as info:
        await open_database(path)
    assert str(path) in str(info.value)
    assert read_header(path) == (0, 0, ["notes"])


async def test_database_from_newer_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    await (await open_database(path)).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StorageError, match="written by a newer version of the bot"):
        await open_database(path)


async def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("I am a file")
    path = blocker / "bot.db"
    with pytest.raises(StorageError, match="cannot open the database at") as info:
        await open_database(path)
    assert str(path) in str(info.value)


def test_split_statements_keeps_semicolons_in_strings() -> None:
    script = "CREATE TABLE t (a TEXT DEFAULT 'x;y');\nINSERT INTO t VALUES ('1;2');\n"
    assert split_statements(script) == [
        "CREATE TABLE t (a TEXT DEFAULT 'x;y');",
        "INSERT INTO t VALUES ('1;2');",
    ]


# --- jobs -------------------------------------------------------------------------


def changed(job: Job | None) -> Job:
    """The job a state change returned (None: it changed nothing)."""
    assert job is not None
    return job


async def test_job_lifecycle(jobs: JobRepository, clock: Clock) -> None:
    job = await jobs.create(new_job())
    assert job.state is JobState.SUBMITTING
    assert job.progress == 0
    assert job.created_at == job.updated_at == clock.now
    assert job.request == {"url": "https://example.com/clip.mp4", "timestamps": "1.5,4.0"}
    assert job.meta == {"title": "Clip ✨"}
    assert job.task_id is None and job.submitted_at is None and job.finished_at is None

    submitted_at = clock.tick()
    job = changed(await jobs.set_submitted(job.id, "task-42", JobState.QUEUED, 0))
    assert (job.task_id, job.state, job.submitted_at) == ("task-42", JobState.QUEUED, submitted_at)

    job = await jobs.set_message(job.id, 11, 12)
    assert (job.channel_id, job.message_id) == (11, 12)

    clock.tick()
    job = changed(await jobs.update_status(job.id, JobState.IN_PROGRESS, 40))
    assert (job.state, job.progress, job.finished_at) == (JobState.IN_PROGRESS, 40, None)
    assert job.updated_at == clock.now

    stalled_at = clock.tick()
    assert (await jobs.mark_stalled(job.id)).stalled_at == stalled_at
    clock.tick()
    assert (await jobs.mark_stalled(job.id)).stalled_at == stalled_at

    finished_at = clock.tick()
    job = changed(
        await jobs.update_status(
            job.id, JobState.FAILED, 40, error_code="moderation", error="blocked"
        )
    )
    assert (job.state, job.error_code, job.error_message) == (
        JobState.FAILED,
        "moderation",
        "blocked",
    )
    assert job.finished_at == finished_at
    clock.tick()  # a final state is never left, not even for itself
    assert await jobs.update_status(job.id, JobState.FAILED, 40, error_code="again") is None
    assert await jobs.get(job.id) == job

    announced_at = clock.tick()
    assert (await jobs.mark_announced(job.id)).announced_at == announced_at
    clock.tick()
    job = await jobs.mark_announced(job.id)
    assert job.announced_at == announced_at
    assert await jobs.get(job.id) == job


async def test_missing_job(jobs: JobRepository) -> None:
    assert await jobs.get(999) is None
    with pytest.raises(NotFoundError, match="job 999"):
        await jobs.update_status(999, JobState.QUEUED, 0)
    with pytest.raises(NotFoundError):
        await jobs.complete(999, [])


async def test_interrupted_submissions_become_unknown(db_target: Path | str) -> None:
    path = db_target
    db = await open_database(path)
    repo = JobRepository(db)
    first = await repo.create(new_job())
    sent = await repo.create(new_job())
    await repo.set_submitted(sent.id, "task-1", JobState.QUEUED, 0)
    second = await repo.create(new_job())
    await db.close()  # the bot "crashes" with two jobs still submitting

    db = await open_database(path)
    try:
        repo = JobRepository(db)
        interrupted = await repo.mark_interrupted_submissions()
        assert [job.id for job in interrupted] == [first.id, second.id]
        for job in interrupted:
            assert job.state is JobState.UNKNOWN
            assert job.error_message == "interrupted while submitting"
            assert await repo.get(job.id) == job
        untouched = await repo.get(sent.id)
        assert untouched is not None and untouched.state is JobState.QUEUED
        assert await repo.mark_interrupted_submissions() == []
    finally:
        await db.close()


async def test_active_lists_jobs_with_work_left(jobs: JobRepository) -> None:
    async def job_in(state: JobState, *, task: bool = True, announced: bool = False) -> int:
        job = await jobs.create(new_job())
        if task:
            await jobs.set_submitted(job.id, f"task-{job.id}", JobState.QUEUED, 0)
        if state is not JobState.SUBMITTING:
            await jobs.update_status(job.id, state, 50)
        if announced:
            await jobs.mark_announced(job.id)
        return job.id

    queued = await job_in(JobState.QUEUED)
    await job_in(JobState.SUBMITTING, task=False)
    await job_in(JobState.QUEUED, task=False)
    running = await job_in(JobState.IN_PROGRESS)
    failed = await job_in(JobState.FAILED)
    await job_in(JobState.FAILED, announced=True)
    await job_in(JobState.COMPLETED, announced=True)
    completed = await job_in(JobState.COMPLETED)
    unknown = await job_in(JobState.UNKNOWN, task=False)

    active = await jobs.active()
    assert [job.id for job in active] == [queued, running, failed, completed, unknown]


async def test_jobs_listed_per_guild_newest_first(jobs: JobRepository, clock: Clock) -> None:
    ids = []
    for _ in range(5):
        clock.tick()
        ids.append((await jobs.create(new_job(guild_id=1))).id)
    await jobs.create(new_job(guild_id=2))
    page = await jobs.list_for_guild(1, limit=3)
    assert [job.id for job in page] == ids[::-1][:3]
    rest = await jobs.list_for_guild(1, limit=3, offset=3)
    assert [job.id for job in rest] == ids[::-1][3:]


async def test_concurrent_writes_are_serialised(jobs: JobRepository) -> None:
    created = await asyncio.gather(*(jobs.create(new_job()) for _ in range(20)))
    assert len({job.id for job in created}) == 20
    updated = await asyncio.gather(
        *(jobs.update_status(job.id, JobState.IN_PROGRESS, 10) for job in created)
    )
    assert all(job is not None and job.state is JobState.IN_PROGRESS for job in updated)


# --- completing jobs and characters ---------------------------------------------------


async def test_complete_twice_stores_each_character_once(
    jobs: JobRepository, characters: CharacterRepository, clock: Clock
) -> None:
    job = await jobs.create(new_job(requester_id=100))
    batch = [new_character("ch_a", creator_id=7), new_character("ch_b", avatar=None)]
    first = await jobs.complete(job.id, batch)
    assert [c.character_id for c in first] == ["ch_a", "ch_b"]
    assert first[0].avatar == b"\x89PNG fake" and first[0].avatar_mime == "image/png"
    assert [c.creator_id for c in first] == [7, 100]  # default: the job's requester
    assert all(c.job_id == job.id and c.created_at == clock.now for c in first)

    done = await jobs.get(job.id)
    assert done is not None
    assert (done.state, done.progress, done.finished_at) == (JobState.COMPLETED, 100, clock.now)

    clock.tick()
    again = await jobs.complete(job.id, batch)
    assert again == first
    assert await characters.count_for_guild(1) == 2


async def test_failed_complete_stores_nothing(
    jobs: JobRepository, characters: CharacterRepository
) -> None:
    job = await jobs.create(new_job(guild_id=1))
    with pytest.raises(ValueError, match="guild"):
        await jobs.complete(job.id, [new_character("ch_a", 1), new_character("ch_b", 2)])
    assert await characters.count_for_guild(1) == 0
    unchanged = await jobs.get(job.id)
    assert unchanged is not None and unchanged.state is JobState.SUBMITTING


async def test_announcing_characters(jobs: JobRepository, characters: CharacterRepository) -> None:
    job = await jobs.create(new_job())
    stored = await jobs.complete(job.id, [new_character("ch_a"), new_character("ch_b")])
    await characters.mark_announced(stored[0].id)
    left = await characters.unannounced_for_job(job.id)
    assert [c.character_id for c in left] == ["ch_b"]
    assert left[0].avatar == b"\x89PNG fake"
    assert [c.character_id for c in await characters.for_job(job.id)] == ["ch_a", "ch_b"]


async def test_guilds_never_see_each_other(
    jobs: JobRepository, characters: CharacterRepository
) -> None:
    await stored_character(jobs, 1, "ch_same", display_name="Guild One Hero")
    await stored_character(jobs, 2, "ch_same", display_name="Guild Two Hero")
    await stored_character(jobs, 2, "ch_only_two")

    assert [c.display_name for c in await characters.list_for_guild(1)] == ["Guild One Hero"]
    assert await characters.count_for_guild(1) == 1
    assert await characters.get(1, "ch_only_two") is None

    renamed = await characters.rename(1, "ch_same", "Renamed")
    assert renamed is not None and renamed.guild_id == 1
    assert await characters.rename(1, "ch_only_two", "Stolen") is None
    other = await characters.get(2, "ch_same")
    assert other is not None and other.display_name == "Guild Two Hero"

    assert await characters.delete(1, "ch_only_two") is False
    assert await characters.delete(1, "ch_same") is True
    assert await characters.get(1, "ch_same") is None
    assert await characters.count_for_guild(2) == 2


async def test_list_newest_first_with_creator_filter_and_paging(
    jobs: JobRepository, characters: CharacterRepository, clock: Clock
) -> None:
    for index in range(6):
        clock.tick()
        creator = 1 if index % 2 == 0 else 2
        await stored_character(jobs, 1, f"ch_{index}", creator_id=creator)

    listed = await characters.list_for_guild(1)
    assert [c.character_id for c in listed] == [f"ch_{i}" for i in (5, 4, 3, 2, 1, 0)]
    assert all(c.avatar is None and c.avatar_mime == "image/png" for c in listed)

    page = await characters.list_for_guild(1, limit=2, offset=2)
    assert [c.character_id for c in page] == ["ch_3", "ch_2"]

    mine = await characters.list_for_guild(1, creator_id=2)
    assert [c.character_id for c in mine] == ["ch_5", "ch_3", "ch_1"]
    assert await characters.count_for_guild(1, creator_id=2) == 3
    assert await characters.list_for_guild(1, creator_id=2, offset=3) == []


async def test_get_with_and_without_avatar(
    jobs: JobRepository, characters: CharacterRepository
) -> None:
    await stored_character(jobs, 1, "ch_1")
    full = await characters.get(1, "ch_1")
    light = await characters.get(1, "ch_1", with_avatar=False)
    assert full is not None and full.avatar == b"\x89PNG fake"
    assert light is not None and light.avatar is None and light.avatar_mime == "image/png"


async def test_rename_and_delete(
    db: Database, jobs: JobRepository, characters: CharacterRepository
) -> None:
    stored = await stored_character(jobs, 1, "ch_1", display_name="Old Name")
    renamed = await characters.rename(1, "ch_1", "Straße Hero")
    assert renamed is not None
    assert renamed.display_name == "Straße Hero"
    assert (renamed.id, renamed.avatar) == (stored.id, stored.avatar)
    fetched = await characters.get(1, "ch_1")
    assert fetched is not None and fetched.display_name == "Straße Hero"
    key = await db.fetchone("SELECT name_key FROM characters WHERE id = ?", (stored.id,))
    assert key is not None and key[0] == "strasse hero"

    assert await characters.rename(1, "missing", "Name") is None
    with pytest.raises(ValueError, match="empty"):
        await characters.rename(1, "ch_1", "   ")

    assert await characters.delete(1, "ch_1") is True
    assert await characters.get(1, "ch_1") is None
    assert await characters.delete(1, "ch_1") is False


async def test_closed_database_says_so(db_target: Path | str) -> None:
    db = await open_database(db_target)
    await db.close()
    await db.close()
    with pytest.raises(StorageError, match="closed"):
        await JobRepository(db).get(1)


async def test_bot_state_survives_reopening(db_target: Path | str) -> None:
    path = db_target
    db = await open_database(path)
    state = StateRepository(db)
    assert await state.get("commands_hash") is None
    await state.set("commands_hash", "abc")
    await state.set("commands_hash", "def")
    await db.close()
    db = await open_database(path)
    try:
        assert await StateRepository(db).get("commands_hash") == "def"
    finally:
        await db.close()


async def test_a_task_is_made_in_the_server_of_its_job_or_character(
    jobs: JobRepository, characters: CharacterRepository
) -> None:
    job = await jobs.create(new_job(guild_id=1))
    await jobs.set_submitted(job.id, "task-of-one", JobState.QUEUED, 0)
    elsewhere = await stored_character(jobs, 3, "ch_moved")
    # An imported character keeps its task id and has no job in its new server.
    assert await characters.restore([replace(elsewhere, guild_id=2, task_id="task-imported")]) == 1

    assert await jobs.task_made_in(1, "task-of-one")
    assert not await jobs.task_made_in(2, "task-of-one")
    assert await jobs.task_made_in(2, "task-imported")
    assert not await jobs.task_made_in(1, "task-imported")
    assert not await jobs.task_made_in(1, "task-nobody-made")
