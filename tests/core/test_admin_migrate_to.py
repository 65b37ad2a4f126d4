"""`python -m bot admin migrate-to postgresql://...` as a real process: a SQLite database
moves to PostgreSQL with its counts, the bot then reads it there; refused while the bot
runs or for a URL that is not PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from bot.domain.records import JobState, NewJob, SourceKind
from bot.runtime.process_lock import ProcessLock
from storage import JobRepository, open_database
from tests.storage.backends import postgres_schema, skip_without_postgres


async def admin(database_url: str, cwd: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env["DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "admin", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def seed(path: Path) -> None:
    async with await open_database(path) as db:
        jobs = JobRepository(db)
        for n in range(3):
            new = NewJob(
                guild_id=4242, source_kind=SourceKind.URL, source_ref=f"https://e.x/{n}",
                range_start=1, range_end=3, model="sora-2", requester_id=7,
            )  # fmt: skip
            job = await jobs.create(new)
            await jobs.set_submitted(job.id, f"task-{n}", JobState.QUEUED, 0)


async def test_migrate_to_copies_and_the_bot_reads_postgres(tmp_path: Path) -> None:
    skip_without_postgres()
    path = tmp_path / "bot.sqlite3"
    await seed(path)
    async with postgres_schema() as url:
        code, out, err = await admin(f"sqlite:///{path}", tmp_path, "migrate-to", url)
        assert code == 0, err
        assert "jobs: 3 row(s)" in out and "counts checked" in out
        code, out, err = await admin(url, tmp_path, "jobs")
        assert code == 0, err
        assert "shared database; 3 job(s) in flight" in out
        code, out, err = await admin(url, tmp_path, "backup", str(tmp_path / "copy"))
        assert code != 0 and "pg_dump" in out + err


async def test_migrate_to_is_refused_while_the_bot_runs(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await seed(path)
    with ProcessLock.acquire(path):
        code, out, err = await admin(
            f"sqlite:///{path}", tmp_path, "migrate-to", "postgresql://x@127.0.0.1:1/x"
        )
    assert code != 0 and "stop it first" in out + err


async def test_migrate_to_needs_a_postgres_url(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    await seed(path)
    code, out, err = await admin(f"sqlite:///{path}", tmp_path, "migrate-to", "sqlite:///x.db")
    assert code != 0 and "is not a postgresql:// URL" in out + err
