"""A process that stalled with a status answer in hand while another process took its
job over and finished it (PostgreSQL, two processes): the stale answer changes nothing,
and the member's card is not edited back to "running" after the character was posted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.domain.records import Character, Job, JobState, NewJob, SourceKind
from bot.jobs.events import NullListener
from bot.jobs.timings import TrackerTimings
from bot.providers.base import CharacterRequest, Task, TaskStatus
from bot.runtime.config import Settings
from bot.runtime.container import Core, open_core
from bot.simulator import Simulator
from tests.storage.backends import postgres_schema, skip_without_postgres

LEASE = 1.0
TIMINGS = TrackerTimings(
    poll_interval=0.05,
    slow_poll_interval=0.1,
    timeout=60,
    expected_duration=1.0,
    sweep_interval=0.2,
    sweep_retry=0.2,
    lease=LEASE,
)


class Card(NullListener):
    """What one process shows the member: progress edits of the card, then the character."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, JobState]] = []

    async def job_changed(self, job: Job) -> None:
        self.shown.append(("progress", job.state))

    async def character_ready(self, job: Job, character: Character) -> None:
        self.shown.append(("character", job.state))


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def open_process(url: str, toapis: str, card: Card) -> Core:
    settings = Settings(
        _env_file=None,
        database_url=url,
        database_pool_size=3,
        toapis_api_key="sim-key",
        toapis_base_url=toapis,
        allow_private_urls=True,
    )
    return await open_core(settings, card, timings=TIMINGS)


async def test_a_stale_poller_does_not_edit_the_card_back_to_running(
    simulator: Simulator,
) -> None:
    skip_without_postgres()
    simulator.scenario.update(check_media=False, hang=True)
    stalled, other = Card(), Card()
    async with postgres_schema() as url:
        first = await open_process(url, simulator.base_url, stalled)
        second = await open_process(url, simulator.base_url, other)
        # `first` is never started, so it never renews its lease (as if its event loop
        # stalled); its status query that first finds the task running is held there.
        in_hand, resume = asyncio.Event(), asyncio.Event()
        query = first.provider.get_task

        async def stalls_with_the_answer(task_id: str) -> Task:
            answer = await query(task_id)
            if answer.status is TaskStatus.IN_PROGRESS and not in_hand.is_set():
                in_hand.set()
                await resume.wait()
            return answer

        first.provider.get_task = stalls_with_the_answer  # type: ignore[method-assign]
        try:
            source = "https://example.com/clip.mp4"
            new = NewJob(
                guild_id=1,
                source_kind=SourceKind.URL,
                source_ref=source,
                range_start=1,
                range_end=3,
                model="sora-2",
                channel_id=10,
                message_id=11,
                requester_id=5,
            )
            job = await first.tracker.submit(new, CharacterRequest(start=1, end=3, url=source))
            await asyncio.wait_for(in_hand.wait(), 30)

            await second.tracker.start()  # takes the job over once first's lease runs out

            async def taken() -> bool:
                stored = await second.jobs.get(job.id)
                return stored is not None and stored.owner == second.tracker.owner

            await until(taken, "the second process to take the job over")
            simulator.scenario.update(hang=False)  # the task completes at toapis

            async def carded() -> bool:
                stored = await second.jobs.get(job.id)
                return stored is not None and stored.announced_at is not None

            await until(carded, "the second process to post the card")
            seen_before = list(stalled.shown)
            resume.set()  # the stalled process goes on with its stale "running" answer
            await until(lambda: asyncio.sleep(0, first.tracker.running == 0), "first to stop")

            assert stalled.shown == seen_before  # no edit back to "running"
            assert other.shown[-1] == ("character", JobState.COMPLETED)
            assert [what for what, _ in other.shown].count("character") == 1
            stored = await first.jobs.get(job.id)
            assert stored is not None and stored.state is JobState.COMPLETED
            assert len(await first.characters.for_job(job.id)) == 1
        finally:
            resume.set()
            await second.close()
            await first.close()
