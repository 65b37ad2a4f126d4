"""Stopping a component inside `asyncio.timeout` or a `TaskGroup`: the caller's own
cancellation gets through while the component waits for its background task to end.

It used to be swallowed there (`with suppress(CancelledError): await task`): the timeout
never fired, the group's other tasks waited on a caller that went on, and a loop closing
with such a task left waited as long as whatever that caller did next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import discord
import pytest

from bot.runtime.heartbeat import Heartbeat
from cogs.character._updater import MessageUpdater
from cogs.shared.render import Rendered
from tests.jobs.test_tracker import Harness, Recorder, new_job


@pytest.fixture
def video_url(media_server: str, short_video: Path) -> str:
    return f"{media_server}/{short_video.name}"


async def went_on_past_the_deadline(stop: Callable[[], Awaitable[None]]) -> bool:
    """Run `stop()` under a deadline that has passed; whether the code after it ran."""
    went_on = False
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):  # fires at the first wait inside `stop`
            await stop()
            went_on = True
    return went_on


async def test_a_deadline_reaches_a_heartbeat_being_stopped(tmp_path: Path) -> None:
    heartbeat = Heartbeat(tmp_path / "heartbeat", interval=30)
    heartbeat.connected()
    assert not await went_on_past_the_deadline(heartbeat.stop)
    assert not heartbeat.path.exists()  # stopped anyway: a stopped bot is not healthy


async def test_a_deadline_reaches_a_final_edit_waiting_for_a_progress_edit() -> None:
    sent: list[str] = []
    answer = asyncio.Event()  # Discord is slow to answer the progress edit

    async def edit(rendered: Rendered) -> None:
        await answer.wait()
        sent.append(str(rendered.embeds[0].description))

    updater = MessageUpdater(edit, min_interval=0)
    updater.push(Rendered(embeds=[discord.Embed(description="50%")]))
    await asyncio.sleep(0)  # the progress edit is on its way
    card = Rendered(embeds=[discord.Embed(description="card")])
    answer.set()  # so that a final edit sent anyway would arrive
    assert not await went_on_past_the_deadline(lambda: updater.send_now(card))
    assert sent == []  # neither edit went out after the caller gave up


async def test_a_deadline_reaches_a_tracker_being_stopped(tmp_path, simulator, video_url):
    simulator.scenario.update(hang=True)
    harness = Harness(tmp_path / "bot.sqlite3", simulator)
    try:
        tracker = await harness.tracker(Recorder())
        await tracker.submit(*new_job(video_url))
        assert tracker.running == 1
        assert not await went_on_past_the_deadline(tracker.stop)
    finally:
        simulator.scenario.update(hang=False)
        await harness.close()


async def test_a_task_group_stops_a_tracker_when_a_sibling_fails(tmp_path, simulator, video_url):
    simulator.scenario.update(hang=True)
    harness = Harness(tmp_path / "bot.sqlite3", simulator)
    went_on: list[str] = []

    async def stop_then_serve() -> None:
        await tracker.stop()
        went_on.append("served after the group was cancelled")

    async def fail() -> None:
        raise RuntimeError("a sibling failed")

    try:
        tracker = await harness.tracker(Recorder())
        await tracker.submit(*new_job(video_url))
        with pytest.raises(ExceptionGroup) as caught:
            async with asyncio.TaskGroup() as group:
                group.create_task(stop_then_serve())
                group.create_task(fail())
        assert [str(e) for e in caught.value.exceptions] == ["a sibling failed"]
        assert went_on == []
    finally:
        simulator.scenario.update(hang=False)
        await harness.close()
