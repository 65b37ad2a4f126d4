"""The simulator enforces toapis' tiers as sliding windows and counts what it saw."""

from __future__ import annotations

import asyncio

import httpx

from bot.simulator import Simulator
from tests.simulator.helpers import SUBMIT, create_body, submit


async def test_a_burst_of_queries_over_the_default_tier_gets_429s_with_retry_after(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(check_media=False)
    task = await submit(client, url="http://127.0.0.1/clip.mp4")
    simulator.scenario.update(tier="default")
    answers = await asyncio.gather(
        *(client.get(f"/v1/videos/generations/{task['id']}") for _ in range(60))
    )
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 50 and statuses.count(429) == 10  # 50 in any second
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Category"] == "async_query"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    counted = (await client.get("/_sim/limits")).json()
    assert counted["tier"] == "default"
    assert counted["query"]["accepted"] == 50 and counted["query"]["limited"] == 10
    assert counted["query"]["max_in_second"] == 50


async def test_submits_are_limited_to_five_in_any_second(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(check_media=False, tier="default")
    body = create_body(url="http://127.0.0.1/clip.mp4")
    answers = await asyncio.gather(*(client.post(SUBMIT, json=body) for _ in range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 5 + [429] * 3
    assert simulator.submits == 5  # a 429 creates nothing
    counted = (await client.get("/_sim/limits")).json()["submit"]
    assert counted["accepted"] == 5 and counted["limited"] == 3


async def test_without_a_tier_nothing_is_refused_but_everything_is_counted(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(check_media=False)
    body = create_body(url="http://127.0.0.1/clip.mp4")
    answers = await asyncio.gather(*(client.post(SUBMIT, json=body) for _ in range(8)))
    assert all(a.status_code == 200 for a in answers)
    counted = (await client.get("/_sim/limits")).json()["submit"]
    assert counted["limited"] == 0 and counted["max_in_second"] == 8


async def test_an_empty_balance_answers_402_until_topped_up(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(check_media=False, out_of_credit=True)
    body = create_body(url="http://127.0.0.1/clip.mp4")
    refused = await client.post(SUBMIT, json=body)
    assert refused.status_code == 402
    assert refused.json()["error"]["type"] == "payment_required"
    await client.post("/_sim/scenario", json={"out_of_credit": False})
    assert (await client.post(SUBMIT, json=body)).status_code == 200
