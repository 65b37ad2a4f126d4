"""`python -m bot admin ...` as a real process on real SQLite files: export and import
(a round trip keeps everything, avatars included), an online backup while 50 jobs write,
jobs in flight and the usage report. No Discord, no toapis key."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sqlite3
import sys
from pathlib import Path

from bot.domain.records import JobState, NewCharacter, NewJob, SourceKind
from bot.runtime.process_lock import ProcessLock
from storage import CharacterRepository, JobRepository, open_database

GUILD = 4242
AVATAR = bytes(range(256)) * 8  # binary, every byte value


async def admin(database: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env["DATABASE_URL"] = f"sqlite:///{database}"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "admin",
        *args,
        cwd=database.parent,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def new_job(guild: int = GUILD, requester: int | None = 7, n: int = 0) -> NewJob:
    return NewJob(
        guild_id=guild,
        source_kind=SourceKind.URL,
        source_ref=f"https://example.com/{n}.mp4",
        range_start=1,
        range_end=3,
        model="sora-2",
        requester_id=requester,
    )


async def seed_characters(path: Path) -> None:
    """Three characters: with and without avatar, creator, announcement; odd names."""
    async with await open_database(path) as db:
        jobs = JobRepository(db)
        job = await jobs.create(new_job())
        await jobs.complete(
            job.id,
            [
                NewCharacter(
                    GUILD,
                    "ch_a",
                    "task_1",
                    'Ærø, "quoted"\nline',
                    "user.a",
                    job.id,
                    AVATAR,
                    "image/png",
                    7,
                ),
                NewCharacter(GUILD, "ch_b", "task_1", "Bee", "user.b", job.id, None, None, None),
            ],
        )
        await CharacterRepository(db).mark_announced(1, job_id=job.id)
        other = await jobs.create(new_job(guild=GUILD + 1))
        await jobs.complete(other.id, [NewCharacter(GUILD + 1, "ch_x", "t", "X", "user.x")])


async def test_export_import_round_trip_keeps_everything(tmp_path):
    source, target = tmp_path / "a" / "bot.sqlite3", tmp_path / "b" / "bot.sqlite3"
    source.parent.mkdir()
    target.parent.mkdir()
    await seed_characters(source)

    code, out, err = await admin(source, "export", "--guild", str(GUILD), "--out", "exported")
    assert code == 0, err
    folder = source.parent / "exported"
    assert f"exported 2 character(s) of server {GUILD}" in out
    document = json.loads((folder / f"{GUILD}-characters.json").read_text())
    assert [c["character_id"] for c in document["characters"]] == ["ch_a", "ch_b"]
    with (folder / f"{GUILD}-characters.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["display_name"] for r in rows] == ['Ærø, "quoted"\nline', "Bee"]
    assert "avatar" not in rows[0]

    exported = folder / f"{GUILD}-characters.json"
    code, out, err = await admin(target, "import", str(exported))
    assert (code, out.strip()) == (0, "imported 2 character(s); 0 were already there"), err
    code, out, _ = await admin(target, "import", str(exported))  # idempotent
    assert out.strip() == "imported 0 character(s); 2 were already there"

    code, _, err = await admin(target, "export", "--guild", str(GUILD), "--out", "again")
    assert code == 0, err
    again = target.parent / "again"
    assert (again / exported.name).read_bytes() == exported.read_bytes()
    assert (again / f"{GUILD}-characters.csv").read_bytes() == (
        folder / f"{GUILD}-characters.csv"
    ).read_bytes()
    async with await open_database(target) as db:
        stored = await CharacterRepository(db).get(GUILD, "ch_a")
        assert stored is not None and stored.avatar == AVATAR and stored.creator_id == 7
        found = await CharacterRepository(db).search(GUILD, "ærø")
        assert [c.character_id for c in found] == ["ch_a"]
        assert await CharacterRepository(db).count_for_guild(GUILD) == 2


async def test_import_refuses_a_file_that_is_not_an_export(tmp_path):
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"characters": []}')
    code, out, err = await admin(tmp_path / "bot.sqlite3", "import", str(bogus))
    assert code == 2 and out == ""
    assert err.strip() == f"error: {bogus} is not a characters export of this bot"
    assert not (tmp_path / "bot.sqlite3").exists()


async def test_backup_while_50_jobs_write_opens_and_checks_clean(tmp_path):
    path = tmp_path / "bot.sqlite3"
    lock = ProcessLock.acquire(path)  # as a running bot holds it
    db = await open_database(path)
    jobs = JobRepository(db)
    stop = asyncio.Event()
    busy = asyncio.Event()  # every job has written a few times
    writes = [0]

    async def writer(n: int) -> None:
        job = await jobs.create(new_job(n=n))
        await jobs.set_submitted(job.id, f"task_{n}", JobState.QUEUED, 0)
        progress = 0
        while not stop.is_set():
            progress = (progress + 1) % 100
            await jobs.update_status(job.id, JobState.IN_PROGRESS, progress)
            writes[0] += 1
            if writes[0] >= 200:
                busy.set()

    writers = [asyncio.ensure_future(writer(n)) for n in range(50)]
    try:
        await asyncio.wait_for(busy.wait(), 60)
        before = writes[0]
        code, out, err = await admin(path, "backup", str(tmp_path / "copy.sqlite3"))
        during = writes[0] - before
    finally:
        stop.set()
        await asyncio.gather(*writers)
        await db.close()
        lock.release()
    assert code == 0, err
    assert during > 0  # the jobs kept writing while the copy was made
    assert out.splitlines() == [
        f"bot running (pid {os.getpid()}); backed up {path} to {tmp_path / 'copy.sqlite3'}",
        "integrity check of the copy: ok",
    ]
    copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no WAL
    async with await open_database(copy) as restored:  # our own checks: ours, migrated
        assert len(await JobRepository(restored).in_flight()) == 50
    code, _, err = await admin(path, "backup", str(copy))
    assert code == 2 and f"{copy} already exists" in err


async def test_jobs_in_flight_and_usage(tmp_path):
    path = tmp_path / "bot.sqlite3"
    async with await open_database(path) as db:
        jobs = JobRepository(db)
        running = await jobs.create(new_job(requester=7, n=1))
        await jobs.set_submitted(running.id, "task_run", JobState.IN_PROGRESS, 40)
        failed = await jobs.create(new_job(requester=8, n=2))
        await jobs.set_submitted(failed.id, "task_fail", JobState.FAILED, 0)
        await jobs.create(new_job(requester=8, n=3))  # never accepted: not usage
    code, out, err = await admin(path, "jobs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "bot not running; 2 job(s) in flight"
    assert f"#{running.id}  server {GUILD}  member 7  in_progress  40%  task task_run" in lines[1]
    code, out, err = await admin(path, "usage", "--guild", str(GUILD))
    assert code == 0, err
    server = next(line for line in out.splitlines() if line.startswith("server"))
    assert server.split()[1:] == [str(GUILD)] + ["2", "(1)"] * 3
    members = [line.split() for line in out.splitlines() if "member" in line]
    assert members == [["member", "7"] + ["1", "(0)"] * 3, ["member", "8"] + ["1", "(1)"] * 3]
