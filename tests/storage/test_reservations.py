"""A limit and the job it allows are one step: many reservations at once, from one
process or from two OS processes on PostgreSQL, never pass a limit together."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bot.domain.records import Job, JobKind, JobState, LimitHit, Quota
from storage import Database, JobRepository, open_database
from tests.storage.backends import postgres_schema, skip_without_postgres
from tests.storage.test_storage import new_job

WORKER = Path(__file__).with_name("reserve_worker.py")


def made(outcomes: list[Job | LimitHit]) -> list[Job]:
    return [job for job in outcomes if isinstance(job, Job)]


async def test_a_burst_of_reservations_keeps_every_limit(db: Database) -> None:
    jobs = JobRepository(db)
    today = Quota(since=time.time() - 60, at_once=2, member_day=10, server_day=10)
    burst = await asyncio.gather(*(jobs.reserve(new_job(), today) for _ in range(6)))
    assert len(made(burst)) == 2
    assert {hit.kind for hit in burst if isinstance(hit, LimitHit)} == {"at_once"}
    assert [j.state for j in await jobs.in_flight(1)] == [JobState.PREPARING] * 2

    # Per day: accepted ones count (failed included), unsent ones too, cancelled unsent not.
    daily = Quota(since=time.time() - 60, at_once=9, member_day=3, server_day=4)
    [first, second] = made(burst)
    await jobs.set_prepared(first.id, {"url": "x"}, {})
    await jobs.claim_waiting(first.id)
    failed = await jobs.set_submitted(first.id, "task-1", JobState.FAILED, 0)
    assert failed is not None and failed.task_id == "task-1"
    await jobs.cancel_unsent(second.id, "cancelled")
    more = await asyncio.gather(*(jobs.reserve(new_job(), daily) for _ in range(4)))
    assert len(made(more)) == 2  # 1 accepted (failed) + 2 unsent = 3
    other = await asyncio.gather(*(jobs.reserve(new_job(requester_id=7), daily) for _ in range(3)))
    assert len(made(other)) == 1  # the server's 4th
    assert {hit.kind for hit in other if isinstance(hit, LimitHit)} == {"server_day"}


async def test_the_owner_cap_counts_every_server_and_videos_their_own(db: Database) -> None:
    jobs = JobRepository(db)
    capped = Quota(since=time.time() - 60, at_once=9, member_day=9, server_day=9, global_day=3)
    burst = await asyncio.gather(
        *(jobs.reserve(new_job(guild_id=g, requester_id=g), capped) for g in range(1, 9))
    )
    assert len(made(burst)) == 3
    assert {hit.kind for hit in burst if isinstance(hit, LimitHit)} == {"global_day"}
    # At the front of the line a job leaves itself and later ones out.
    first, _, third = sorted(made(burst), key=lambda job: job.id)  # in reservation order
    assert await jobs.usage_before(first.id, capped.since) == 0
    assert await jobs.usage_before(third.id, capped.since) == 2

    videos = Quota(since=time.time() - 60, at_once=9, member_day=9, server_day=9, videos_day=1)
    clips = [replace(new_job(guild_id=20), kind=JobKind.VIDEO) for _ in range(3)]
    outcomes = await asyncio.gather(*(jobs.reserve(clip, videos) for clip in clips))
    assert len(made(outcomes)) == 1
    # A character job is not a video: the videos' limit does not apply to it.
    assert isinstance(
        await jobs.reserve(new_job(guild_id=20), replace(videos, videos_day=None)), Job
    )


async def test_a_retry_replaces_its_unknown_job_once(db: Database) -> None:
    jobs = JobRepository(db)
    quota = Quota(since=time.time() - 60, at_once=5, member_day=9, server_day=9)
    old = await jobs.create(new_job(), state=JobState.WAITING)
    await jobs.update_status(old.id, JobState.UNKNOWN, 0, error_code="uncertain")
    twice = await asyncio.gather(
        *(jobs.reserve(new_job(), quota, replaces=(old.id, "sent again")) for _ in range(2))
    )
    assert len(made(twice)) == 1
    assert [hit.kind for hit in twice if isinstance(hit, LimitHit)] == ["replaced"]
    stored = await jobs.get(old.id)
    assert stored is not None and stored.state is JobState.FAILED


async def test_two_processes_on_postgresql_never_pass_a_limit_together() -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        db = await open_database(url)  # migrated once, before the workers start
        await db.close()
        start = time.time() + 2.0
        workers = [
            subprocess.Popen(  # noqa: ASYNC220 (two real processes, waited for below)
                [sys.executable, str(WORKER), url, str(start)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.to_thread(w.communicate, timeout=60) for w in workers]
        made_by = [json.loads(out) for out, _ in outputs]
        assert all(w.returncode == 0 for w in workers)
        # Each worker tried 6 reservations by one member (2 at once) at the same moment,
        # then 6 by members of six servers each under a cap of 5 over every server.
        assert sum(m["member"] for m in made_by) == 2
        assert sum(m["capped"] for m in made_by) == 3
        db = await open_database(url)
        try:
            assert len(await JobRepository(db).in_flight()) == 5
        finally:
            await db.close()
