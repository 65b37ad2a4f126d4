"""The fault matrix of issue 7: one row per fault of toapis, the network or Discord.

Every row drives a real `SoraBot` (fake Discord REST + toapis simulator) through one
`/character create` and asserts three things: what the requester saw (embed or ephemeral
text), what is stored (`core.jobs`, `core.characters`), and that nothing was done twice
(create requests that reached toapis, card edits and card posts).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from bot.domain.records import Job, JobState
from bot.providers.toapis import ToapisClient
from bot.runtime.app import SoraBot
from bot.simulator import Scenario, Simulator
from tests.cogs.conftest import BOT_TOKEN, Running, bot_settings
from tests.cogs.test_character_create import BOT_EDIT, EDIT_REPLY, create, is_card
from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord, RecordedCall
from tests.fakes.seen import buttons, shown_fields, shown_text

SUBMIT = "/v1/videos/generations"
CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"
WEBHOOK = r"/webhooks/\d+/[^/]+(/.*)?"


# --- the world a row runs in -----------------------------------------------------------


@dataclass
class World:
    """The fakes, the video link and the bot(s) a row started (closed by the test)."""

    tmp_path: Path
    fake: FakeDiscord
    simulator: Simulator
    url: str
    caplog: pytest.LogCaptureFixture
    bots: list[Running] = field(default_factory=list)

    async def start(
        self, *, read_timeout: float = 5.0, simulator: Simulator | None = None, **settings: Any
    ) -> Running:
        """A logged-in bot as `start_bot` makes it, with a chosen toapis read timeout."""
        sim = simulator or self.simulator
        config = bot_settings(self.tmp_path, self.fake, sim, **settings)
        provider = ToapisClient(
            config.toapis_base_url,
            config.toapis_api_key or "",
            backoff_base=0.01,
            max_attempts=3,
            timeout=read_timeout,
        )
        bot = SoraBot(config, provider=provider)
        await bot.login(BOT_TOKEN)
        cog: Any = bot.get_cog("CharacterCog")
        cog.job_listener.min_interval = 0.0
        running = Running(bot, self.fake)
        self.bots.append(running)
        return running

    async def close(self) -> None:
        for running in self.bots:
            await running.bot.close()


Row = Callable[[World], Awaitable[None]]


async def until(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def submits_sent(simulator: Simulator) -> int:
    """Create requests that reached toapis (accepted or not)."""
    return len([r for r in simulator.requests if r.method == "POST" and r.path == SUBMIT])


def status_queries(simulator: Simulator) -> int:
    return len([r for r in simulator.requests if r.method == "GET"])


def card_edits(fake: FakeDiscord) -> list[RecordedCall]:
    return [c for c in fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)]


def card_posts(fake: FakeDiscord) -> list[RecordedCall]:
    return [c for c in fake.calls_to("POST", r"/channels/\d+/messages") if is_card(c)]


def says(words: str) -> Callable[[RecordedCall], bool]:
    return lambda call: words in str(call.json)


async def the_job(running: Running) -> Job:
    """The one job of the row (waits until it is written)."""
    for _ in range(500):
        jobs: list[Job] = await running.core.jobs.list_for_guild(GUILD_ID)
        if jobs:
            [job] = jobs
            return job
        await asyncio.sleep(0.01)
    raise AssertionError("no job was stored")


async def refused(world: World, words: str, error_code: str, **knobs: Any) -> None:
    """A refused create: one failure embed saying `words`; one request; nothing stored."""
    sora = await world.start()
    world.simulator.scenario.update(**knobs)
    sora.feed(create(url=world.url))
    call = await sora.wait_call("PATCH", EDIT_REPLY, says("Couldn't"))
    description = shown_text(call)
    assert words in description, description
    assert "What to do next" in description and "Traceback" not in description
    await sora.settle()
    job = await the_job(sora)
    assert job.state is JobState.FAILED and job.error_code == error_code
    assert job.task_id is None and job.announced_at is not None
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 0
    assert submits_sent(world.simulator) == 1  # no retry: a refusal is final
    assert world.simulator.submits == 0
    failures = [c for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if says("Couldn't")(c)]
    assert len(failures) == 1


async def one_card(sora: Running, world: World, *, sent: int = 1, refused: int = 0) -> Job:
    """The card arrived once, one character is stored, toapis created one task.

    `refused`: card edits Discord may have refused first (the edit then goes another way).
    """
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    job = await the_job(sora)
    assert job.state is JobState.COMPLETED and job.announced_at is not None
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    assert character.job_id == job.id and character.announced_at is not None
    assert 1 <= len(card_edits(sora.fake)) <= 1 + refused and card_posts(sora.fake) == []
    assert world.simulator.submits == 1
    assert submits_sent(world.simulator) == sent
    return job


async def in_progress(world: World, **settings: Any) -> Running:
    """A bot whose job is accepted and shown as in progress (the task hangs at toapis)."""
    world.simulator.scenario.update(hang=True)
    sora = await world.start(**settings)
    sora.feed(create(url=world.url))
    await sora.wait_call("PATCH", EDIT_REPLY, says("Extracting"))
    return sora


# --- toapis refuses the create request ---------------------------------------------------


async def held(world: World, words: str, error_code: str, fix: dict[str, Any], **knobs: Any):
    """toapis refuses the account itself: the job keeps its place (WAITING, nothing
    failed), the member is told why, and once the account is fixed the card arrives."""
    sora = await world.start()
    sora.core.tracker.line.hold_retry = 0.3  # minutes in production
    world.simulator.scenario.update(**knobs)
    sora.feed(create(url=world.url))
    await sora.wait_call("PATCH", EDIT_REPLY, says(words))
    job = await the_job(sora)
    assert job.state is JobState.WAITING and job.error_code == error_code
    assert job.task_id is None and world.simulator.submits == 0
    world.simulator.scenario.update(**fix)
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    job = await the_job(sora)
    assert job.state is JobState.COMPLETED and job.announced_at is not None
    assert world.simulator.submits == 1 and len(card_edits(sora.fake)) == 1
    assert not [c for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if says("Couldn't")(c)]
    return sora


async def toapis_401(world: World) -> None:
    # The key was revoked at toapis after the bot started, then put back.
    await held(
        world,
        "key was refused",
        "AuthenticationError",
        {"api_key": world.simulator.scenario.api_key},
        api_key="revoked-key-the-bot-lacks",
    )
    loud = [r for r in world.caplog.records if "refused the bot's account" in r.getMessage()]
    assert len(loud) == 1 and loud[0].levelno == logging.ERROR  # the owner is told, once


async def toapis_402(world: World) -> None:
    await held(
        world,
        "account needs a top-up",
        "PaymentRequiredError",
        {"out_of_credit": False},
        out_of_credit=True,
    )


async def toapis_400(world: World) -> None:
    body = {
        "error": {
            "code": 400,
            "message": "Invalid request: timestamps exceed the length of the video",
            "type": "invalid_request_error",
        }
    }
    await refused(
        world,
        "The video service refused this request: timestamps exceed the length of the video",
        "InvalidRequestError",
        submit_status=[400, body],
    )


async def toapis_422(world: World) -> None:
    body = {"error": {"code": 422, "message": "The video shows a real person's face"}}
    await refused(
        world,
        "The video service refused this request: The video shows a real person's face",
        "ContentPolicyError",
        submit_status=[422, body],
    )


# --- toapis is busy or broken at submit: the job waits, retries, then succeeds once ------


async def busy_at_submit(world: World, **knobs: Any) -> None:
    world.simulator.scenario.update(retry_after=0, **knobs)
    sora = await world.start()
    sora.feed(create(url=world.url))
    waiting = await sora.wait_call("PATCH", EDIT_REPLY, says("retrying"))
    assert "Queued at toapis" in shown_text(waiting)
    job = await one_card(sora, world, sent=5)  # 4 refused (never created), 1 accepted
    assert job.task_id is not None
    # The card came after the waiting state, and nothing of the wait was shown after it.
    calls = sora.fake.calls_to("PATCH", EDIT_REPLY)
    assert calls.index(waiting) < calls.index(card_edits(sora.fake)[0]) == len(calls) - 1


async def toapis_429_at_submit(world: World) -> None:
    await busy_at_submit(world, rate_limit_submits=4)


async def toapis_503_at_submit(world: World) -> None:
    await busy_at_submit(world, unavailable=4)


async def toapis_500_at_submit(world: World) -> None:
    """A 500 to a create request: the task may exist, so it is never resent silently."""
    await uncertain_submit(world, server_errors=1)


async def connection_refused_at_submit(world: World) -> None:
    """toapis is down (nothing listens on its port), then comes back on the same port."""
    down = Simulator(Scenario(queued_for=0.05, step_interval=0.05))
    base = await down.start()
    port = int(base.rsplit(":", 1)[1])
    await down.stop()
    try:
        sora = await world.start(simulator=down)
        sora.feed(create(url=world.url))
        waiting = await sora.wait_call("PATCH", EDIT_REPLY, says("retrying"))
        assert "Queued at toapis" in shown_text(waiting)
        assert (await the_job(sora)).state is JobState.WAITING
        await down.start(port=port)
        await sora.wait_call("PATCH", EDIT_REPLY, is_card)
        await sora.settle()
        job = await the_job(sora)
        assert job.state is JobState.COMPLETED
        assert await sora.core.characters.count_for_guild(GUILD_ID) == 1
        assert len(card_edits(sora.fake)) == 1 and card_posts(sora.fake) == []
        assert down.submits == 1 and submits_sent(down) == 1
    finally:
        await down.stop()


async def unreadable_answer_to_create(world: World) -> None:
    await uncertain_submit(world, malformed=1)


async def uncertain_submit(world: World, **knobs: Any) -> None:
    world.simulator.scenario.update(**knobs)
    sora = await world.start()
    sora.feed(create(url=world.url))
    call = await sora.wait_call("PATCH", EDIT_REPLY, says("Unknown"))
    assert "not sent again" in shown_text(call)
    await sora.settle()
    job = await the_job(sora)
    assert job.state is JobState.UNKNOWN and job.task_id is None
    assert submits_sent(world.simulator) == 1  # never resent silently
    message = sora.fake.message(job.message_id or 0)
    assert message is not None
    assert [b["label"] for b in buttons(message)] == ["Retry"]
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 0


# --- faults while polling: transient, then the card ----------------------------------------


async def read_timeouts_on_status(world: World) -> None:
    sora = await in_progress(world, read_timeout=0.4)
    world.simulator.scenario.update(latency=1.0)  # every status query outlasts the client
    await until(
        lambda: any("status query failed" in r.getMessage() for r in world.caplog.records),
        "a status query to time out",
    )
    assert (await the_job(sora)).state is JobState.IN_PROGRESS
    world.simulator.scenario.update(latency=0, hang=False)
    await one_card(sora, world)


async def malformed_status_answers(world: World) -> None:
    sora = await in_progress(world)
    world.simulator.scenario.update(malformed=5)
    await until(lambda: world.simulator.scenario.malformed == 0, "the bad answers")
    assert (await the_job(sora)).state is JobState.IN_PROGRESS
    world.simulator.scenario.update(hang=False)
    await one_card(sora, world)


async def rate_limited_status_queries(world: World) -> None:
    sora = await in_progress(world)
    world.simulator.scenario.update(rate_limit_queries=5, retry_after=0)
    await until(lambda: world.simulator.scenario.rate_limit_queries == 0, "the 429s")
    world.simulator.scenario.update(hang=False)
    await one_card(sora, world)


async def server_errors_on_status(world: World) -> None:
    sora = await in_progress(world)
    world.simulator.scenario.update(server_errors=5)
    await until(lambda: world.simulator.scenario.server_errors == 0, "the 500s")
    world.simulator.scenario.update(hang=False)
    await one_card(sora, world)


async def not_found_for_a_while(world: World) -> None:
    sora = await in_progress(world)
    world.simulator.scenario.update(not_found_queries=6)  # both pages, three polls
    await until(lambda: world.simulator.scenario.not_found_queries == 0, "the 404s")
    assert (await the_job(sora)).state is JobState.IN_PROGRESS  # within the grace period
    world.simulator.scenario.update(hang=False)
    await one_card(sora, world)


async def not_found_for_good(world: World) -> None:
    sora = await in_progress(world)
    tracker = sora.core.tracker
    tracker.timings = replace(tracker.timings, not_found_grace=0.3)  # 10 min in production
    world.simulator.scenario.update(not_found_queries=10**6)
    call = await sora.wait_call("PATCH", EDIT_REPLY, says("Couldn't"))
    assert "no longer knows this task" in shown_text(call)
    await sora.settle()
    job = await the_job(sora)
    assert job.state is JobState.FAILED and job.error_code == "not_found"
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 0
    assert submits_sent(world.simulator) == 1 and card_edits(sora.fake) == []


async def stuck_in_progress(world: World) -> None:
    sora = await in_progress(world, job_timeout_seconds=0.3)
    tracker = sora.core.tracker
    tracker.timings = replace(tracker.timings, slow_poll_interval=0.05)  # 60 s in production
    still = await sora.wait_call("PATCH", EDIT_REPLY, says("Still running"))
    assert "taking longer than usual" in shown_text(still)
    job = await the_job(sora)
    assert job.stalled_at is not None and job.state is JobState.IN_PROGRESS
    world.simulator.scenario.update(hang=False)  # the late completion
    job = await one_card(sora, world)
    assert job.stalled_at is not None


# --- Discord faults --------------------------------------------------------------------


async def interaction_token_expired(world: World) -> None:
    sora = await in_progress(world)
    world.fake.expire_interaction_tokens()  # 15 minutes later...
    expired_at = len(world.fake.calls)
    world.simulator.scenario.update(hang=False)
    # The first edit after the token died may be the card itself (polls are sparse until
    # the task's usual end): Discord refuses it, and the bot token shows it.
    await one_card(sora, world, refused=1)
    later = world.fake.calls[expired_at:]
    # The token is dropped the first time Discord refuses it; the bot token does the rest.
    assert len([c for c in later if re.fullmatch(WEBHOOK, c.path)]) <= 1
    assert len([c for c in later if re.fullmatch(BOT_EDIT, c.path) and is_card(c)]) == 1
    ping = await sora.wait_call("POST", CHANNEL_POST)
    assert isinstance(ping.json, dict) and f"<@{USER_ID}>" in ping.json["content"]


async def reply_deleted(world: World) -> None:
    sora = await in_progress(world)
    job = await the_job(sora)
    world.fake.delete_message(job.message_id or 0)
    world.simulator.scenario.update(hang=False)
    post = await sora.wait_call("POST", CHANNEL_POST, is_card)
    await sora.settle()
    assert isinstance(post.json, dict)
    assert post.json.get("enforce_nonce") is True and post.json.get("nonce")
    assert len(card_posts(sora.fake)) == 1  # once, as a new message
    [shown] = [m for m in world.fake.messages_in(CHANNEL_ID) if m.get("components")]
    assert "Character id" in shown_fields(shown)
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 1
    assert (await the_job(sora)).announced_at is not None
    assert world.simulator.submits == 1


async def channel_denied(world: World) -> None:
    sora = await in_progress(world)
    world.fake.expire_interaction_tokens()  # more than 15 minutes later (else: the token)
    world.fake.deny_channel(CHANNEL_ID)
    world.simulator.scenario.update(hang=False)
    opened = await sora.wait_call("POST", r"/users/@me/channels")
    assert isinstance(opened.json, dict) and int(opened.json["recipient_id"]) == USER_ID
    dm_id = world.fake.store.dm_channels[USER_ID]
    dm = await sora.wait_call("POST", rf"/channels/{dm_id}/messages", is_card)
    assert isinstance(dm.json, dict) and "couldn't post in the channel" in shown_text(dm)
    await sora.settle()
    assert len(card_posts(sora.fake)) == 1  # the DM, once
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 1  # still stored
    job = await the_job(sora)
    assert job.state is JobState.COMPLETED and job.announced_at is not None
    assert world.simulator.submits == 1


async def discord_429_on_edits(world: World) -> None:
    world.fake.rate_limit_next("PATCH", EDIT_REPLY, retry_after=0.5)
    sora = await world.start()
    sora.feed(create(url=world.url))
    await one_card(sora, world)
    edits = world.fake.calls_to("PATCH", EDIT_REPLY)
    assert is_card(edits[-1])  # nothing stale after the card
    # The first edit waits 0.5 s in discord.py; newer states replace the pending one (or the
    # card cancels it), so at most the retry and the newest state go out before the card.
    progress = edits[:-1]
    assert 1 <= len(progress) <= 3, [shown_text(c) for c in progress]
    percents = [int(shown_text(c).split("%")[0].split()[-1]) for c in progress]
    assert percents == sorted(percents)
    message = world.fake.message((await the_job(sora)).message_id or 0)
    assert message is not None and "Character id" in shown_fields(message)


ROWS: list[Row] = [
    toapis_401,
    toapis_402,
    toapis_400,
    toapis_422,
    toapis_429_at_submit,
    toapis_503_at_submit,
    toapis_500_at_submit,
    connection_refused_at_submit,
    unreadable_answer_to_create,
    read_timeouts_on_status,
    malformed_status_answers,
    rate_limited_status_queries,
    server_errors_on_status,
    not_found_for_a_while,
    not_found_for_good,
    stuck_in_progress,
    interaction_token_expired,
    reply_deleted,
    channel_denied,
    discord_429_on_edits,
]


@pytest.mark.parametrize("row", ROWS, ids=[row.__name__ for row in ROWS])
async def test_fault(
    row: Row, tmp_path, fake_discord, simulator, media_server, short_video, caplog
):
    caplog.set_level(logging.INFO)
    world = World(tmp_path, fake_discord, simulator, f"{media_server}/{short_video.name}", caplog)
    try:
        await row(world)
    finally:
        await world.close()


async def test_denied_channel_gets_exactly_one_dm(
    tmp_path, fake_discord, simulator, media_server, short_video, caplog
):
    world = World(tmp_path, fake_discord, simulator, f"{media_server}/{short_video.name}", caplog)
    try:
        sora = await in_progress(world)
        world.fake.expire_interaction_tokens()
        world.fake.deny_channel(CHANNEL_ID)
        world.simulator.scenario.update(hang=False)
        await sora.wait_call("POST", r"/channels/\d+/messages", is_card)
        await sora.settle()
        dm_id = world.fake.store.dm_channels[USER_ID]
        dms = world.fake.calls_to("POST", rf"/channels/{dm_id}/messages")
        assert len(dms) == 1, [c.json for c in dms]
    finally:
        await world.close()
