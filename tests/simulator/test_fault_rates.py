"""Faults at a rate (`Scenario.fault_rates`): what a client sees, and repeatability."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.simulator import Scenario, Simulator
from tests.simulator.helpers import SUBMIT, create_body, submit

URL = "http://127.0.0.1:9/clip.mp4"


@pytest.fixture(autouse=True)
def _no_media_checks(simulator: Simulator) -> None:
    simulator.scenario.check_media = False


async def statuses(client: httpx.AsyncClient, task_id: str, count: int) -> list[int]:
    return [(await client.get(f"/v1/characters_tasks/{task_id}")).status_code for _ in range(count)]


async def test_status_reads_answer_500_at_the_rate_and_creates_are_spared(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.update(fault_rates={"query_500": 1.0})
    assert await statuses(client, created["id"], 3) == [500, 500, 500]
    await submit(client, url=URL)  # creates are not status reads
    simulator.scenario.update(fault_rates={"query_500": 0.3})
    simulator.fault_dice.seed(7)
    seen = await statuses(client, created["id"], 200)
    assert set(seen) == {200, 500}
    assert 30 <= seen.count(500) <= 90  # about 60 of 200
    assert simulator.fault_dice.injected["query_500"] == 3 + seen.count(500)


async def test_creates_answer_503_with_retry_after_and_make_no_task(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(fault_rates={"submit_503": 1.0}, retry_after=4)
    refused = await client.post(SUBMIT, json=create_body(url=URL))
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "rate_limit_unavailable"
    assert refused.headers["Retry-After"] == "4"
    assert simulator.submits == 0


async def test_429_beyond_the_tier_on_creates_and_reads(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.update(fault_rates={"rate_limited": 1.0}, retry_after=3, tier="default")
    limited = await client.post(SUBMIT, json=create_body(url=URL))
    read = await client.get(f"/v1/characters_tasks/{created['id']}")
    for answer in (limited, read):
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Category"] == "async_submit"
    assert read.headers["X-RateLimit-Category"] == "async_query"
    assert simulator.submits == 1


async def test_slow_answers_wait_within_the_range(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.update(fault_rates={"slow": 1.0}, slow_seconds=[0.3, 0.4])
    started = time.monotonic()
    assert await statuses(client, created["id"], 2) == [200, 200]
    assert 0.6 <= time.monotonic() - started < 2.0
    simulator.scenario.update(fault_rates={})
    started = time.monotonic()
    await statuses(client, created["id"], 2)
    assert time.monotonic() - started < 0.3


async def test_the_same_seed_rolls_the_same_faults(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.update(fault_rates={"query_500": 0.5})
    runs = []
    for _ in range(2):
        simulator.fault_dice.seed("soak")
        runs.append(await statuses(client, created["id"], 40))
    assert runs[0] == runs[1] and 500 in runs[0] and 200 in runs[0]


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Scenario().update(fault_rates={"meteor": 0.1})
    with pytest.raises(ValueError, match="at most 1"):
        Scenario().update(fault_rates={"slow": 1.5})
    with pytest.raises(ValueError, match="shortest, longest"):
        Scenario().update(slow_seconds=[6, 2])
    copied = Scenario.from_dict({"fault_rates": {"slow": 0.05}, "slow_seconds": [2, 6]}).copy()
    assert copied.fault_rates == {"slow": 0.05} and copied.slow_seconds == (2.0, 6.0)
