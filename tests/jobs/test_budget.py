"""The shared budgets: sliding windows, urgent callers first, a 429 slows everyone."""

from __future__ import annotations

import asyncio

from bot.net.rate_budget import TIERS, AccountBudgets, Budget, Rate, prepaid, tier_limits


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
