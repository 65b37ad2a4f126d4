"""A webhook event that reaches a process not following the job (PostgreSQL, two
processes): the outcome is stored once and the process following the job posts the card
at once, not at its next status query, and only once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bot.domain.records import Character, Job, NewJob, SourceKind
from bot.jobs.events import NullListener
from bot.jobs.timings import TrackerTimings
from bot.providers.base import CharacterRequest, TaskStatus
from bot.runtime.config import Settings
from bot.runtime.container import Core, open_core
from bot.simulator import Simulator
from tests.storage.backends import postgres_schema, skip_without_postgres


class Cards(NullListener):
    """The cards one process posts."""

    def __init__(self) -> None:
        self.posted: list[int] = []

    async def character_ready(self, job: Job, character: Character) -> None:
        self.posted.append(job.id)


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def open_process(url: str, toapis: str, cards: Cards) -> Core:
    settings = Settings(
        _env_file=None,
        database_url=url,
        database_pool_size=3,
        toapis_api_key="sim-key",
        toapis_base_url=toapis,
        allow_private_urls=True,
    )
    # Status queries far apart: without being told, the follower would post the card
    # only after the test has given up.
    slow = TrackerTimings(poll_interval=300, timeout=3600, expected_duration=600)
    core = await open_core(settings, cards, timings=slow)
    await core.tracker.start()
    return core


async def test_an_event_reaching_another_process_ends_as_one_card_from_the_follower(
    simulator: Simulator,
) -> None:
    skip_without_postgres()
    simulator.scenario.update(check_media=False)
    following, elsewhere = Cards(), Cards()
    async with postgres_schema() as url:
        first = await open_process(url, simulator.base_url, following)
        second = await open_process(url, simulator.base_url, elsewhere)
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
            assert job.task_id is not None
            task_id = job.task_id

            async def finished() -> bool:
                return (await second.provider.get_task(task_id)).status is TaskStatus.COMPLETED

            await until(finished, "the task to complete at toapis")
            task = await second.provider.get_task(task_id)

            stored = await second.tracker.apply_event(task)  # the webhook reached `second`
            assert stored is not None and stored.state.is_final

            async def carded() -> bool:
                return bool(following.posted)

            await until(carded, "the following process to post the card")
            await second.tracker.apply_event(task)  # the event delivered again
            await asyncio.sleep(0.5)
            assert following.posted == [job.id]
            assert elsewhere.posted == []
            assert len(await first.characters.for_job(job.id)) == 1
            assert first.tracker.running == 0  # no longer followed: no status query left
        finally:
            await second.close()
            await first.close()
