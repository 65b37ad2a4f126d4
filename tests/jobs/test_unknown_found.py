"""A Seedance video job the process died sending is found by its business id at the next
start instead of being left "uncertain" (the simulator over real sockets, a real SQLite
file, the core without Discord)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain.records import JobKind, JobState, NewJob, SourceKind
from bot.jobs.events import NullListener
from bot.jobs.timings import TrackerTimings
from bot.providers.video import VideoRequest
from bot.runtime.config import Settings
from bot.runtime.container import Core, open_core
from bot.simulator import Simulator

TIMINGS = TrackerTimings(poll_interval=0.05, slow_poll_interval=0.1, sweep_interval=0.2)


async def core_for(tmp_path: Path, simulator: Simulator) -> Core:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        toapis_api_key=simulator.scenario.api_key,
        toapis_base_url=simulator.base_url,
        allow_private_urls=True,
    )
    return await open_core(settings, NullListener(), timings=TIMINGS)


def seedance(business_id: str) -> VideoRequest:
    return VideoRequest(
        model="seedance-2", prompt="a fox runs", duration=5, client_business_id=business_id
    )


async def left_submitting(core: Core, request: VideoRequest) -> int:
    """A video job as a process that died while sending it leaves it."""
    job = await core.jobs.create(
        NewJob(
            guild_id=1,
            source_kind=SourceKind.PROMPT,
            source_ref=request.prompt,
            range_start=0,
            range_end=request.duration,
            model=request.model,
            requester_id=7,
            request=request.model_dump(exclude_none=True),
            kind=JobKind.VIDEO,
        ),
        state=JobState.SUBMITTING,
    )
    return job.id


def posts(simulator: Simulator) -> int:
    return sum(
        1 for r in simulator.requests if r.method == "POST" and r.path == "/v1/videos/generations"
    )


async def finished(core: Core, job_id: int) -> JobState:
    for _ in range(600):
        job = await core.jobs.get(job_id)
        assert job is not None
        if job.state.is_final:
            return job.state
        await asyncio.sleep(0.05)
    raise AssertionError("the job did not finish")


async def test_a_request_that_arrived_is_found_by_its_business_id_and_followed(
    tmp_path: Path, simulator: Simulator
) -> None:
    core = await core_for(tmp_path, simulator)
    try:
        job_id = await left_submitting(core, seedance("scb-arrived"))
        sent = await core.provider.create_video(seedance("scb-arrived"))  # it did arrive
        await core.tracker.start()
        assert await finished(core, job_id) is JobState.COMPLETED
        job = await core.jobs.get(job_id)
        assert job is not None and job.task_id == sent.id
        assert posts(simulator) == 1  # not sent twice
    finally:
        await core.close()


async def test_a_request_that_never_arrived_is_sent_again_once(
    tmp_path: Path, simulator: Simulator
) -> None:
    core = await core_for(tmp_path, simulator)
    try:
        job_id = await left_submitting(core, seedance("scb-lost"))
        await core.tracker.start()
        assert await finished(core, job_id) is JobState.COMPLETED
        assert posts(simulator) == 1
    finally:
        await core.close()


async def test_a_sora_request_stays_uncertain(tmp_path: Path, simulator: Simulator) -> None:
    core = await core_for(tmp_path, simulator)
    try:
        request = VideoRequest(model="sora-2", prompt="a fox runs", duration=10)
        job_id = await left_submitting(core, request)
        await core.tracker.start()
        assert await finished(core, job_id) is JobState.UNKNOWN
        assert posts(simulator) == 0
    finally:
        await core.close()
