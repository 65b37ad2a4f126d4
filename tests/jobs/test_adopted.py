"""Jobs left preparing by a process that is gone: prepared again from their stored link
and sent, or ended with a plain reason (nothing sent); a failure storing the outcome lets
go of the job so that a later sweep adopts it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.domain.records import Job, JobState
from bot.jobs.again import PrepareAgain
from bot.jobs.tracker import JobTracker
from bot.media.intake import MediaIntake
from bot.media.workers import MediaWorkers
from tests.jobs.test_tracker import FAST, Harness, Recorder, eventually, new_job

SWEEPING = replace(FAST, sweep_interval=0.1, sweep_retry=0.1)
SUBMIT = "/v1/videos/generations"


@pytest_asyncio.fixture
async def harness(tmp_path: Path, simulator: Any) -> AsyncIterator[Harness]:
    built = Harness(tmp_path / "bot.sqlite3", simulator)
    yield built
    await built.close()


@pytest.fixture
def video_url(media_server: str, short_video: Path) -> str:
    return f"{media_server}/{short_video.name}"


async def left_preparing(harness: Harness, url: str) -> tuple[JobTracker, Recorder, Job]:
    """A job a gone process was preparing, and a tracker (with a preparer) to adopt it."""
    recorder = Recorder()
    tracker = await harness.tracker(recorder, SWEEPING)
    new, _ = new_job(url)
    job = await tracker.jobs.create(
        new, state=JobState.PREPARING, owner="gone:1:dead", lease_seconds=-1
    )
    intake = MediaIntake(tracker.provider, allow_private=True, workers=MediaWorkers.create(1))
    tracker.preparer = PrepareAgain(intake, allow_private=True)
    return tracker, recorder, job


def creates(simulator: Any) -> list[Any]:
    return [r for r in simulator.requests if r.method == "POST" and r.path == SUBMIT]


async def test_a_link_left_preparing_is_prepared_again_and_sent_once(
    harness: Harness, simulator: Any, video_url: str
) -> None:
    tracker, recorder, job = await left_preparing(harness, video_url)
    real = tracker.jobs.set_prepared
    failures = [RuntimeError("database went away")]

    async def flaky(*args: Any, **kwargs: Any) -> Job | None:
        if failures:
            raise failures.pop()
        return await real(*args, **kwargs)

    tracker.jobs.set_prepared = flaky  # type: ignore[method-assign]
    await tracker.start()
    await eventually(lambda: bool(recorder.of("character")), within=30)
    assert failures == []  # the first try to store it failed
    stored = await tracker.jobs.get(job.id)
    assert stored is not None and stored.state is JobState.COMPLETED
    assert [r.body["url"] for r in creates(simulator)] == [video_url]


async def test_a_source_that_cannot_be_prepared_again_ends_with_the_reason(
    harness: Harness, simulator: Any, media_server: str
) -> None:
    tracker, recorder, job = await left_preparing(harness, f"{media_server}/gone.mp4")
    await tracker.start()
    await eventually(lambda: bool(recorder.of("failed")), within=30)
    [(_, job_id, reason)] = recorder.of("failed")
    assert job_id == job.id and "nothing was charged" in str(reason)
    stored = await tracker.jobs.get(job.id)
    assert stored is not None and stored.state is JobState.FAILED and stored.task_id is None
    assert creates(simulator) == []
