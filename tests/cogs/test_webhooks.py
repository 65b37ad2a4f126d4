"""toapis webhooks, /health and /metrics through the bot's own HTTP server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from bot.http.inbox import WebhookInbox
from bot.runtime.config import Settings
from bot.simulator.webhook_sender import event_for, signed
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.fakes import GUILD_ID

SECRET = "whsec_test_secret_0123456789"
OLD_SECRET = "whsec_old_secret_9876543210"
STATUS_PATHS = ("/v1/characters_tasks/", "/v1/videos/generations/")


def status_queries(simulator: Any) -> int:
    return sum(1 for r in simulator.requests if r[1].startswith(STATUS_PATHS))


def hooked_settings(tmp_path: Path, fake_discord: Any, simulator: Any, port: int) -> Settings:
    """A bot polling only every 10 minutes, with webhooks on (two secrets: rotation)."""
    simulator.scenario.update(webhook_secret=SECRET)
    return bot_settings(
        tmp_path,
        fake_discord,
        simulator,
        poll_interval_seconds=600,
        http_port=port,
        toapis_webhook_secret=f"{SECRET},{OLD_SECRET}",
        toapis_callback_url=f"http://127.0.0.1:{port}/webhooks/toapis",
    )


@pytest_asyncio.fixture
async def hooked(
    tmp_path: Path, fake_discord: Any, simulator: Any, unused_tcp_port: int
) -> AsyncIterator[Running]:
    """A bot started with `hooked_settings`."""
    settings = hooked_settings(tmp_path, fake_discord, simulator, unused_tcp_port)
    running = await start_bot(settings, fake_discord)
    try:
        yield running
    finally:
        await running.bot.close()


async def answered(sent: Any) -> None:
    """Wait until the simulator has the bot's answer to an event it sent."""
    for _ in range(500):
        if sent.status is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the webhook was never answered")


def count_of(family: Any) -> float:
    """The number of observations of a histogram family."""
    return float(sum(s.value for s in family.samples if s.name.endswith("_count")))


def service_url(sora: Running) -> str:
    assert sora.bot.service is not None
    return sora.bot.service.url


def inbox(sora: Running) -> WebhookInbox:
    """Where the bot applies the events it stored."""
    assert sora.bot.service is not None
    return sora.bot.service.inbox


async def test_a_signed_event_completes_the_job_with_no_status_query(
    hooked: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    hooked.feed(create(url=f"{media_server}/{short_video.name}"))
    await hooked.wait_call("PATCH", EDIT_REPLY, is_card)
    [sent] = simulator.webhooks_sent
    await answered(sent)
    assert sent.status == 200
    # Polling every 10 minutes never came round: the card came from the event.
    assert status_queries(simulator) == 0
    assert hooked.core.tracker.webhooks_healthy()  # polls are rarer from now on
    [submitted] = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
    assert submitted["callback_url"] == f"{service_url(hooked)}/webhooks/toapis"

    # The same event again (at-least-once delivery): 2xx, nothing done twice.
    async with httpx.AsyncClient() as client:
        again = await client.post(sent.url, content=sent.body, headers=sent.headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await hooked.settle()
    assert len([c for c in hooked.fake.calls if is_card(c)]) == 1
    assert len(await hooked.core.characters.list_for_guild(GUILD_ID)) == 1

    await inbox(hooked).drain()
    async with httpx.AsyncClient() as client:
        scraped = await client.get(f"{service_url(hooked)}/metrics")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert samples[("sora_jobs", (("state", "completed"),))] >= 1
    assert samples[("sora_webhook_events_total", (("outcome", "applied"),))] >= 1
    assert samples[("sora_webhook_events_total", (("outcome", "duplicate"),))] >= 1
    assert samples[("sora_cards_delivered_total", ())] >= 1
    assert samples[("sora_characters", ())] == 1
    assert samples[("sora_queue_wait_seconds_count", ())] >= 1
    assert any(k[0] == "sora_discord_writes_total" for k in samples)


async def test_refused_events_do_nothing(
    hooked: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(hang=True)
    hooked.feed(create(url=f"{media_server}/{short_video.name}"))
    await hooked.wait_call("PATCH", EDIT_REPLY, lambda c: "%" in str(c.json))
    [task] = simulator.tasks.values()
    task.status = "completed"  # what the event will claim; the simulator sends nothing
    task.characters = [{"id": "ch_forged", "display_name": "Forged", "username": "x.forged"}]
    event = event_for(task)
    url = f"{service_url(hooked)}/webhooks/toapis"
    async with httpx.AsyncClient() as client:
        forged = signed(event, "not-our-secret")
        bad = await client.post(url, content=forged.body, headers=forged.headers)
        stale = signed(event, SECRET, timestamp=time.time() - 301)
        old = await client.post(url, content=stale.body, headers=stale.headers)
        unknown = signed(
            {**event, "id": "evt_unknown", "data": {**event["data"], "task_id": "task_nobody"}},
            SECRET,
        )
        nobody = await client.post(url, content=unknown.body, headers=unknown.headers)
    assert (bad.status_code, old.status_code) == (401, 400)
    assert nobody.status_code == 200  # stored: toapis need not send it again
    await inbox(hooked).drain()
    assert await hooked.core.characters.list_for_guild(GUILD_ID) == []
    assert not [c for c in hooked.fake.calls if is_card(c)]


async def test_an_event_signed_with_the_previous_secret_is_accepted(
    hooked: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(webhook_secret=OLD_SECRET)  # toapis still signs with the old one
    hooked.feed(create(url=f"{media_server}/{short_video.name}"))
    await hooked.wait_call("PATCH", EDIT_REPLY, is_card)
    [sent] = simulator.webhooks_sent
    await answered(sent)
    assert sent.status == 200


async def test_no_secret_means_no_webhook_route(
    tmp_path: Path, fake_discord: Any, simulator: Any, unused_tcp_port: int
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator, http_port=unused_tcp_port)
    sora = await start_bot(settings, fake_discord)
    try:
        event = signed({"id": "evt_1", "type": "generation.completed", "data": {}}, SECRET)
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{service_url(sora)}/webhooks/toapis", content=event.body, headers=event.headers
            )
            health = await client.get(f"{service_url(sora)}/health")
            scraped = await client.get(f"{service_url(sora)}/metrics")
            await asyncio.sleep(0.6)  # the lag sampler wakes 4 times a second
            rescraped = await client.get(f"{service_url(sora)}/metrics")
        assert answer.status_code == 404
        # Logged in but not connected to the gateway: unhealthy, and says why.
        assert health.status_code == 503
        assert health.json()["problems"] == ["discord: not connected"]
        families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
        expected = {"sora_jobs", "sora_toapis_requests", "sora_webhook_events"}
        assert expected | {"sora_event_loop_lag_seconds"} <= set(families)
        lag = families["sora_event_loop_lag_seconds"]
        again = {f.name: f for f in text_string_to_metric_families(rescraped.text)}
        assert count_of(again["sora_event_loop_lag_seconds"]) > count_of(lag)
    finally:
        await sora.bot.close()


async def test_webhook_not_configured_is_sent_again_without_and_not_asked_again(
    tmp_path: Path, fake_discord: Any, simulator: Any, media_server: str, short_video: Any
) -> None:
    settings = bot_settings(
        tmp_path, fake_discord, simulator, toapis_callback_url="https://bot.example/webhooks/toapis"
    )
    sora = await start_bot(settings, fake_discord)
    try:
        for start in ("1", "2"):
            sora.fake.clear()
            sora.feed(create(url=f"{media_server}/{short_video.name}", start=start, end="3"))
            await sora.wait_call("PATCH", EDIT_REPLY, is_card)
        bodies = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
        assert ["callback_url" in b for b in bodies] == [True, False, False]
        assert simulator.submits == 2
    finally:
        await sora.bot.close()


async def test_events_that_never_arrive_leave_cards_to_polling_at_its_usual_pace(
    tmp_path: Path,
    fake_discord: Any,
    simulator: Any,
    media_server: str,
    short_video: Any,
    unused_tcp_port: int,
) -> None:
    # toapis accepts the callback URL, but nothing answers there (a wrong public address).
    simulator.scenario.update(webhook_secret=SECRET)
    settings = bot_settings(
        tmp_path,
        fake_discord,
        simulator,
        poll_interval_seconds=0.2,
        toapis_callback_url=f"http://127.0.0.1:{unused_tcp_port}/webhooks/toapis",
    )
    sora = await start_bot(settings, fake_discord)
    try:
        tracker = sora.core.tracker
        assert tracker.webhooks_healthy()  # configured: polls are rare until proven wrong
        sora.feed(create(url=f"{media_server}/{short_video.name}"))
        await sora.wait_call("PATCH", EDIT_REPLY, is_card)  # the card came from a poll
        assert [sent.status for sent in simulator.webhooks_sent] == [None]  # never reached
        assert not tracker.webhooks_healthy()  # polls keep their usual pace from now on
        await sora.settle()
        assert len([c for c in sora.fake.calls if is_card(c)]) == 1
    finally:
        await sora.bot.close()
