"""A toapis webhook event is stored before it is applied: when applying fails, the event
is applied later (retried, delivered again, or at the next start) and the member still
gets the card without a status query; a timestamp that is not a number is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.records import Job
from bot.http.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.simulator.webhook_sender import SentEvent
from tests.cogs.conftest import Running, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_webhooks import (
    SECRET,
    answered,
    hooked_settings,
    inbox,
    service_url,
    status_queries,
)
from tests.fakes import GUILD_ID


class LookupDown:
    """The job lookup of the bot's own repository, failing `times` times (or until
    `up` is set), as a database that is briefly unreachable does."""

    def __init__(self, lookup: Callable[[str], Any], times: int = 1_000_000) -> None:
        self.lookup = lookup
        self.times = times
        self.failed = 0

    async def __call__(self, task_id: str) -> Job | None:
        if self.failed < self.times:
            self.failed += 1
            raise ConnectionError("database unreachable")
        return await self.lookup(task_id)  # type: ignore[no-any-return]


def break_lookup(running: Running, monkeypatch: pytest.MonkeyPatch, times: int) -> LookupDown:
    down = LookupDown(running.core.jobs.by_task, times)
    monkeypatch.setattr(running.core.jobs, "by_task", down)
    return down


async def delivered(simulator: Any) -> SentEvent:
    """The one event the simulator sent, once the bot answered it."""
    for _ in range(1000):
        if simulator.webhooks_sent:
            break
        await asyncio.sleep(0.01)
    [sent] = simulator.webhooks_sent
    await answered(sent)
    return sent  # type: ignore[no-any-return]


async def one_card(running: Running) -> None:
    """The member's reply shows the card, once, with one character stored."""
    await running.wait_call("PATCH", EDIT_REPLY, is_card)
    await inbox(running).drain()
    await running.settle()
    assert len([c for c in running.fake.calls if is_card(c)]) == 1
    assert len(await running.core.characters.list_for_guild(GUILD_ID)) == 1


async def test_an_event_whose_apply_fails_once_is_applied_again(
    tmp_path: Path,
    fake_discord: Any,
    simulator: Any,
    media_server: str,
    short_video: Any,
    unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = hooked_settings(tmp_path, fake_discord, simulator, unused_tcp_port)
    sora = await start_bot(settings, fake_discord)
    try:
        inbox(sora).retry_delays = (0.05,)
        down = break_lookup(sora, monkeypatch, times=1)
        sora.feed(create(url=f"{media_server}/{short_video.name}"))
        await one_card(sora)
        [sent] = simulator.webhooks_sent
        assert sent.status == 200  # answered once stored: toapis does not send it again
        assert down.failed == 1
        assert status_queries(simulator) == 0  # the card came from the event
    finally:
        await sora.bot.close()


async def test_an_event_not_applied_yet_is_applied_when_toapis_sends_it_again(
    tmp_path: Path,
    fake_discord: Any,
    simulator: Any,
    media_server: str,
    short_video: Any,
    unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = hooked_settings(tmp_path, fake_discord, simulator, unused_tcp_port)
    sora = await start_bot(settings, fake_discord)
    try:
        inbox(sora).retry_delays = ()  # one attempt: the event waits, stored
        down = break_lookup(sora, monkeypatch, times=1_000_000)
        sora.feed(create(url=f"{media_server}/{short_video.name}"))
        sent = await delivered(simulator)
        await inbox(sora).drain()
        assert down.failed == 1 and not [c for c in sora.fake.calls if is_card(c)]

        down.times = 0  # the database is back; the event comes again (at least once)
        async with httpx.AsyncClient() as client:
            again = await client.post(sent.url, content=sent.body, headers=sent.headers)
        assert again.status_code == 200
        await one_card(sora)
        assert status_queries(simulator) == 0
    finally:
        await sora.bot.close()


async def test_an_event_stored_before_a_stop_is_applied_at_the_next_start(
    tmp_path: Path,
    fake_discord: Any,
    simulator: Any,
    media_server: str,
    short_video: Any,
    unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = hooked_settings(tmp_path, fake_discord, simulator, unused_tcp_port)
    first = await start_bot(settings, fake_discord)
    try:
        inbox(first).retry_delays = (3600.0,)  # still waiting for its retry at the stop
        break_lookup(first, monkeypatch, times=1)
        first.feed(create(url=f"{media_server}/{short_video.name}"))
        sent = await delivered(simulator)
        assert sent.status == 200
    finally:
        await first.bot.close()  # stops waiting: the event stays stored, not handled
    assert not [c for c in fake_discord.calls if is_card(c)]

    second = await start_bot(settings, fake_discord)
    try:
        await one_card(second)
        assert status_queries(simulator) == 0  # the card came from the stored event
    finally:
        await second.bot.close()


async def test_a_timestamp_that_is_not_a_finite_number_is_refused(
    tmp_path: Path, fake_discord: Any, simulator: Any, unused_tcp_port: int
) -> None:
    settings = hooked_settings(tmp_path, fake_discord, simulator, unused_tcp_port)
    sora = await start_bot(settings, fake_discord)
    try:
        url = f"{service_url(sora)}/webhooks/toapis"
        statuses = []
        async with httpx.AsyncClient() as client:
            for stamp in ("nan", "NaN", "inf", "-inf", "1e999"):
                event_id = f"evt_{stamp}"
                body = f'{{"id":"{event_id}","type":"endpoint.test","data":{{}}}}'.encode()
                headers = {
                    ID_HEADER: event_id,
                    TIMESTAMP_HEADER: stamp,
                    SIGNATURE_HEADER: "v1=" + sign(SECRET, event_id, stamp, body),
                }
                answer = await client.post(url, content=body, headers=headers)
                statuses.append(answer.status_code)
            stamp = str(int(time.time()))  # the same event with a real timestamp is taken
            body = b'{"id":"evt_ok","type":"endpoint.test","data":{}}'
            good = {
                ID_HEADER: "evt_ok",
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: "v1=" + sign(SECRET, "evt_ok", stamp, body),
            }
            taken = await client.post(url, content=body, headers=good)
        assert statuses == [400] * 5
        assert taken.status_code == 200
    finally:
        await sora.bot.close()
