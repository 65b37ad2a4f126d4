"""Spending limits hold in the same second: a limit is counted and its job written in one
step, so a burst of interactions (in one process, or spread over two on PostgreSQL)
never passes it. Through real discord.py, the fake Discord and the simulator."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, EPHEMERAL, create, is_card
from tests.cogs.test_library import reply_to
from tests.cogs.test_limits import submits
from tests.cogs.test_owner import owner
from tests.fakes import GUILD_ID, USER_ID, FakeDiscord
from tests.storage.backends import postgres_schema, skip_without_postgres

FOLLOWUP = r"/webhooks/\d+/[^/]+"
CALLBACK = r"/interactions/\d+/[^/]+/callback"
AT_ONCE = (
    "You have 2 jobs running or waiting; this server allows 2 at once. Wait for one to finish."
)
CAPPED = "The bot has used all its jobs for today (UTC): try again in "


def told(fake: FakeDiscord) -> list[str]:
    """The private refusals members read: at once (the early check, when the others'
    jobs were stored before this one was looked at) or after the bot deferred (a burst
    that passed the early check together)."""
    said = []
    for call in fake.calls:
        body = call.json if isinstance(call.json, dict) else {}
        if call.method != "POST":
            continue
        if re.fullmatch(CALLBACK, call.path) and body.get("type") == 4:
            body = body.get("data") or {}
        elif not re.fullmatch(FOLLOWUP, call.path):
            continue
        if body.get("flags") == EPHEMERAL:
            said.append(str(body["content"]))
    return said


def cards(fake: FakeDiscord) -> list[Any]:
    return [c for c in fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)]


async def until(check: Any, what: str, within: float = 30.0) -> None:
    """Poll `check` until it holds (a loaded machine is slow, never wrong)."""
    for _ in range(int(within / 0.05)):
        held = check()
        if await held if inspect.isawaitable(held) else held:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"waited {within:.0f} s for {what}; tasks:\n{_stacks()}")


def _stacks() -> str:
    """Where every task of the loop waits (what a stalled create was doing)."""
    lines = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=12)
        where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
        lines.append(f"  {task.get_name()}: {where}")
    return "\n".join(sorted(lines))


@asynccontextmanager
async def bots(
    tmp_path: Path, fake: FakeDiscord, simulator: Any, backend: str
) -> AsyncIterator[list[Running]]:
    """One bot on SQLite, or two bots (two pools, two lines) on one PostgreSQL schema."""
    if backend == "sqlite":
        one = await start_bot(bot_settings(tmp_path, fake, simulator), fake)
        try:
            yield [one]
        finally:
            await one.bot.close()
        return
    skip_without_postgres()
    async with postgres_schema() as url:
        settings = bot_settings(tmp_path, fake, simulator, database_url=url, database_pool_size=4)
        first = await start_bot(settings, fake)
        try:
            second = await start_bot(settings, fake)
            try:
                yield [first, second]
            finally:
                await second.bot.close()
        finally:
            await first.bot.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_four_creates_in_one_tick_send_two_and_tell_two(
    backend: str,
    tmp_path: Path,
    fake_discord: FakeDiscord,
    simulator: Any,
    media_server: str,
    short_video: Path,
) -> None:
    simulator.scenario.update(hang=True)  # every job stays in flight
    url = f"{media_server}/{short_video.name}"
    async with bots(tmp_path, fake_discord, simulator, backend) as running:
        # The same member, four times in the same event-loop tick (spread over both
        # processes on PostgreSQL): every early check sees nothing stored yet.
        for n in range(4):
            running[n % len(running)].feed(create(url=url, start=str(n), end=str(n + 1)))
        await until(lambda: len(told(fake_discord)) >= 2, "two refusals")
        await until(lambda: submits(simulator) >= 2, "two create requests")
        assert told(fake_discord) == [AT_ONCE, AT_ONCE]
        jobs = await running[0].core.jobs.list_for_guild(GUILD_ID)
        assert len(jobs) == 2  # nothing kept of the refused ones
        await asyncio.sleep(0.5)  # nothing else is on its way
        assert submits(simulator) == 2
        simulator.scenario.update(hang=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_eight_members_in_one_second_pass_the_owner_cap_three_times_at_most(
    backend: str,
    tmp_path: Path,
    fake_discord: FakeDiscord,
    simulator: Any,
    media_server: str,
    short_video: Path,
) -> None:
    url = f"{media_server}/{short_video.name}"
    async with bots(tmp_path, fake_discord, simulator, backend) as running:
        answer = await reply_to(running[0], owner("cap", {"jobs": 3}))
        assert "3" in str(answer.json["data"]["content"])
        for sora in running:  # the other process hears of the change
            await until(
                lambda sora=sora: _cap_is(sora, 3),
                "the cap to reach every process",
            )
        fake_discord.clear()
        for n in range(8):
            member = USER_ID + 1000 + n
            running[n % len(running)].feed(create(url=url, user_id=member))
        await until(lambda: len(told(fake_discord)) >= 5, "five refusals")
        await until(lambda: len(cards(fake_discord)) >= 3, "three cards")
        assert len(told(fake_discord)) == 5
        assert all(text.startswith(CAPPED) for text in told(fake_discord))
        for sora in running:
            await sora.settle()
        assert submits(simulator) == 3
        assert len({c.path for c in cards(fake_discord)}) == 3


async def _cap_is(sora: Running, cap: int) -> bool:
    return bool((await sora.core.owner.get()).daily_cap == cap)


async def test_a_cap_reached_while_jobs_wait_stops_them_at_the_front_uncharged(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    url = f"{media_server}/{short_video.name}"
    line = sora.core.tracker.line
    line.pause("a moment")  # the line holds: jobs wait in it, nothing is sent
    members = [USER_ID + 1000 + n for n in range(3)]
    for member in members:
        sora.feed(create(url=url, user_id=member))
    await until(lambda: len(line) == 3, "three jobs in line")

    async def waiting() -> bool:
        jobs = await sora.core.jobs.in_flight(GUILD_ID)
        return [j.state.value for j in jobs] == ["waiting"] * 3

    await until(waiting, "three jobs waiting")
    await reply_to(sora, owner("cap", {"jobs": 1}))  # lowered while they wait
    line.resume()

    def refused() -> list[Any]:
        return [
            c
            for c in sora.fake.calls_to("PATCH", EDIT_REPLY)
            if "Couldn't create a character" in str(c.json)
        ]

    await until(lambda: len(refused()) >= 2, "two members told")
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    assert submits(simulator) == 1  # the first in line only
    for call in refused():
        text = str(call.json)
        assert "so this one was not sent and nothing was charged" in text
        assert "Try again after midnight UTC." in text
    jobs = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert sorted((j.state.value, j.task_id is None, j.error_code) for j in jobs) == [
        ("completed", False, None),
        ("failed", True, "over_cap"),
        ("failed", True, "over_cap"),
    ]
    # The first in line is the first reserved (the three prepare at once, in any order).
    first = min(jobs, key=lambda j: j.id)
    assert [j.requester_id for j in jobs if j.state.value == "completed"] == [first.requester_id]
    # The refused jobs no longer count: nothing but the one sent counts today.
    assert await sora.core.jobs.usage_before(10**9, 0) == 1
