"""Finished videos through the real bot: streamed to a file (a large one arrives whole and
is never held in memory), on a pool of their own so that cards never wait behind them."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.simulator.videos import result_video
from cogs.character._writes import DiscordWrites
from tests.cogs.conftest import Running
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_video_create import characters, is_video, video
from tests.fakes import GUILD_ID

MB = 1024 * 1024


@pytest.fixture
def own_tempdir(tmp_path: Path) -> Iterator[Path]:
    """Temporary files go to a directory of this test (to see that none is left)."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path / "tmp")
    Path(tempfile.tempdir).mkdir()
    try:
        yield Path(tempfile.tempdir)
    finally:
        tempfile.tempdir = saved


class HeldCards(DiscordWrites):
    """The real write budget, with the next card or video held at the door until
    `release` (the test looks at memory while it waits)."""

    def __init__(self) -> None:
        super().__init__(1000)
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.holding = True

    async def wait(self, urgent: bool) -> None:
        if urgent and self.holding:
            self.reached.set()
            await self.release.wait()
            self.holding = False
        await super().wait(urgent)


def leftovers(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def listener(sora: Running) -> Any:
    return sora.bot.get_cog("CharacterCog").job_listener  # type: ignore[union-attr]


async def test_a_large_video_is_streamed_to_a_file_and_arrives_whole(
    sora: Running, simulator: Any, media_server: str, short_video: Any, own_tempdir: Path
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    size = 40 * MB
    simulator.scenario.update(video_bytes=size)
    writes = listener(sora).writes = HeldCards()
    sora.fake.clear()
    tracemalloc.start()
    try:
        sora.feed(video(prompt="surfs", character=hero.character_id, upload_limit=50 * MB))
        await writes.reached.wait()  # downloaded; about to be posted
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writes.release.set()
    assert peak < 16 * MB  # a chunk at a time, not the whole video (once or twice)

    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video, within=60)
    [(_, filename, data)] = done.files
    assert filename == "video.mp4" and len(data) == size
    assert hashlib.sha256(data).digest() == hashlib.sha256(result_video(size)).digest()
    await sora.settle()
    assert leftovers(own_tempdir) == []  # the downloaded file is gone


async def test_a_card_is_not_held_behind_slow_video_downloads(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    await sora.core.guild_settings.set(GUILD_ID, jobs_at_once=5)
    simulator.scenario.update(video_bytes=4 * MB, video_bytes_per_second=64 * 1024)  # ~1 min
    sora.fake.clear()
    for prompt in ("sails", "skates"):  # as many as the bot downloads at once
        sora.feed(video(prompt=prompt, character=hero.character_id))
    for _ in range(1500):  # until both are downloading, slowly
        if len(simulator.video_requests) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(simulator.video_requests) == 2

    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card, within=30)
    assert not [c for c in sora.fake.calls if is_video(c)]  # the card came first

    simulator.scenario.update(video_bytes_per_second=0)  # the rest comes at once
    for _ in range(2):
        await sora.wait_call("PATCH", EDIT_REPLY, is_video, within=30)
        sora.fake.calls.remove(next(c for c in sora.fake.calls if is_video(c)))
