"""Announcing an outcome once, however many callers arrive together (polling, a webhook
event, the sweeper), even after an attempt failed while others waited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.records import Job, JobState, NewJob, SourceKind
from bot.jobs.announce import Announcer
from bot.jobs.events import NullListener
from bot.jobs.timings import TrackerTimings
from storage import CharacterRepository, JobRepository, open_database


class FlakyDiscord(NullListener):
    """Down for the first failure shown (until `recover` is set), then up but slow: the
    second showing waits a moment for a third one, which must not come."""

    def __init__(self) -> None:
        self.shown: list[int] = []
        self.calls = 0
        self.first_arrived = asyncio.Event()
        self.recover = asyncio.Event()
        self.third_arrived = asyncio.Event()

    async def job_failed(self, job: Job) -> None:
        self.calls += 1
        if self.calls == 1:
            self.first_arrived.set()
            await self.recover.wait()
            raise RuntimeError("Discord is down")
        if self.calls == 3:
            self.third_arrived.set()
        else:  # give a second announcement, if one runs, time to arrive
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.third_arrived.wait(), 2.0)
        self.shown.append(job.id)


@pytest.fixture
async def failed_job(
    tmp_path: Path,
) -> AsyncIterator[tuple[JobRepository, CharacterRepository, Job]]:
    db = await open_database(tmp_path / "bot.sqlite3")
    jobs = JobRepository(db)
    new = NewJob(
        guild_id=1,
        source_kind=SourceKind.URL,
        source_ref="https://example.com/v.mp4",
        range_start=1,
        range_end=3,
        model="sora-2",
        channel_id=10,
        message_id=11,
        requester_id=42,
    )
    created = await jobs.create(new)
    job = await jobs.update_status(
        created.id, JobState.FAILED, 0, error_code="generation_failed", error="No."
    )
    assert job is not None
    yield jobs, CharacterRepository(db), job
    await db.close()


async def test_a_caller_arriving_after_a_failed_attempt_waits_its_turn(
    failed_job: tuple[JobRepository, CharacterRepository, Job],
) -> None:
    jobs, characters, job = failed_job
    discord = FlakyDiscord()
    announcer = Announcer(jobs, characters, discord, TrackerTimings(announce_attempts=1))

    first = asyncio.create_task(announcer.announce(job))  # polling: Discord is down
    await discord.first_arrived.wait()
    second = asyncio.create_task(announcer.announce(job))  # a webhook event: waits
    for _ in range(5):
        await asyncio.sleep(0)
    discord.recover.set()
    with pytest.raises(RuntimeError):
        await first  # left to the sweeper; the waiting caller goes on
    third = asyncio.create_task(announcer.announce(job))  # the sweeper
    await asyncio.gather(second, third)

    assert discord.shown == [job.id]  # the member is told once
    stored = await jobs.get(job.id)
    assert stored is not None and stored.announced_at is not None
