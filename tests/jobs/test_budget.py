"""The shared budgets: sliding windows, urgent callers first, a 429 slows everyone."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.domain.records import JobState
from bot.jobs.events import NullListener
from bot.net.rate_budget import TIERS, AccountBudgets, Budget, Rate, prepaid, tier_limits
from bot.runtime.config import Settings
from bot.runtime.container import open_core
from bot.simulator import Simulator
from tests.jobs.test_tracker import new_job


async def test_urgent_callers_are_served_before_earlier_ordinary_ones() -> None:
    budget = Budget("test", Rate(2, 20))
    first = [await budget.reserve(), await budget.reserve()]  # the window is now full
    order: list[str] = []

    async def wait(name: str, urgent: bool) -> None:
        (await budget.reserve(urgent=urgent)).use()
        order.append(name)

    waiters = [asyncio.create_task(wait(f"progress{n}", False)) for n in range(3)]
    await asyncio.sleep(0)
    waiters.append(asyncio.create_task(wait("card", True)))
    await asyncio.gather(*waiters)
    assert len(first) == 2
    assert order[0] == "card" and order[1:] == ["progress0", "progress1", "progress2"]


async def test_a_window_never_grants_more_than_its_count() -> None:
    budget = Budget("test", Rate(3, 30))
    granted = [budget.delay() == 0 and await budget.reserve() for _ in range(3)]
    assert all(granted)
    assert budget.delay() > 0  # a fourth must wait for the window to slide


async def test_a_429_pauses_and_slows_the_whole_budget_once_per_episode() -> None:
    budget = Budget("test", Rate(10, 100))
    budget.slow_down(0.2)
    budget.slow_down(0.2)  # the same burst answering 429 twice halves the rate once
    assert budget.delay() > 0 and budget.slowdowns == 2
    assert budget.windows(budget.now())[0][0] == 5


async def test_a_prepaid_slot_is_used_instead_of_a_new_one() -> None:
    budget = Budget("test", Rate(1, 10))
    slot = await budget.reserve()
    with prepaid(slot):
        taken = await budget.take()  # would wait a second without the prepaid slot
    assert taken is slot and budget.granted == 1


def test_tiers_and_overrides() -> None:
    assert tier_limits("default") == TIERS["default"]
    assert tier_limits("vip").query == Rate(166, 1660)
    assert tier_limits("svip", submit_per_second=2).submit == Rate(2, 20)
    budgets = AccountBudgets.create(TIERS["default"], query_share=0.8)
    assert budgets.query.rate == Rate(40, 400) and budgets.submit.rate == Rate(5, 50)


async def test_a_budget_counts_requests_sent_before_it_was_made() -> None:
    budget = Budget("test", Rate(5, 50))
    budget.recall([0.2] * 5)  # a second's worth, sent a moment ago by a process now gone
    assert 0.5 < budget.delay() <= 1.1
    later = Budget("test", Rate(5, 50))
    later.recall([12.0] * 50)  # out of every window by now
    assert later.delay() == 0


async def test_a_restarted_bot_does_not_send_on_top_of_what_it_sent_just_before(
    tmp_path: Path, simulator: Simulator
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        toapis_api_key=simulator.scenario.api_key,
        toapis_base_url=simulator.base_url,
    )
    before = await open_core(settings, NullListener())
    started = time.monotonic()
    try:  # the process before the restart sent the tier's 50 creates of 10 s: 48
        # accepted, one cut off by the restart while it was sent, one left unknown
        for n in range(50):
            new, _ = new_job(f"https://example.com/{n}.mp4")
            job = await before.jobs.create(new, state=JobState.SUBMITTING)
            if n < 48:
                await before.jobs.set_submitted(job.id, f"task_{n:026d}", JobState.QUEUED, 0)
            elif n == 49:
                await before.jobs.update_status(job.id, JobState.UNKNOWN, 0)
    finally:
        await before.close()
    after = await open_core(settings, NullListener())
    try:
        budgets = after.tracker.budgets
        assert budgets is not None
        # The next create waits until the oldest of the 50 leaves the 10 s window.
        assert budgets.submit.delay() >= 10.0 - (time.monotonic() - started)
        assert budgets.query.delay() == 0
    finally:
        await after.close()
