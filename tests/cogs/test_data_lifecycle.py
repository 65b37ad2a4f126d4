"""Data lifecycle through real discord.py: `/character forget-me`, servers the bot leaves
(GUILD_DELETE, or missing from READY after a removal while offline), purged 30 days later
unless the bot comes back. Time moves by a controllable clock, never by waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from bot.policy.retention import DAY
from bot.policy.usage import usage_report
from storage import UsageRepository, open_database
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_list import seed
from tests.fakes import GUILD_ID, OTHER_GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import shown_text

CALLBACK = r"/interactions/\d+/[^/]+/callback"
START = 1_800_000_000.0


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * DAY


async def reply_to(running: Running, payload: dict[str, Any]) -> Any:
    running.fake.clear()
    running.feed(payload)
    return await running.wait_call("POST", CALLBACK)


async def accepted_jobs(running: Running, guild_id: int, requester: int, count: int) -> None:
    """`count` jobs of a member that toapis accepted (they count in usage)."""
    from bot.domain.records import JobState, NewJob, SourceKind

    for i in range(count):
        job = await running.core.jobs.create(
            NewJob(
                guild_id=guild_id,
                source_kind=SourceKind.URL,
                source_ref=f"https://example.com/{requester}/{i}.mp4",
                range_start=1,
                range_end=3,
                model="sora-2",
                requester_id=requester,
            )
        )
        await running.core.jobs.set_submitted(job.id, f"task_{requester}_{i}", JobState.FAILED, 0)


async def ask_forget(running: Running) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Run `/character forget-me`; (its private reply, the stored message, label -> id)."""
    asked = payloads.slash_command("forget-me", group="character")
    call = await reply_to(running, asked)
    message_id = running.fake.store.thread(asked["token"]).original_id
    assert message_id is not None
    message = running.fake.message(message_id)
    assert message is not None
    data = call.json["data"]
    buttons = {b["label"]: b["custom_id"] for b in data["components"][0]["components"]}
    return data, message, buttons


async def test_forget_me_can_delete_my_characters_and_keeps_usage_anonymous(sora: Running):
    await seed(sora, GUILD_ID, 2, creator=USER_ID, name="Mine")
    await seed(sora, GUILD_ID, 1, creator=OTHER_USER_ID, name="Theirs")
    await seed(sora, OTHER_GUILD_ID, 1, creator=USER_ID, name="Elsewhere")
    await accepted_jobs(sora, GUILD_ID, USER_ID, 3)

    data, message, buttons = await ask_forget(sora)
    assert data["flags"] == 64
    assert "**4** job record(s)" in data["content"] and "**2** character(s)" in data["content"]
    assert list(buttons) == [
        "Keep my characters, unattributed",
        "Delete my characters too",
        "Cancel",
    ]
    answer = await reply_to(
        sora, payloads.component_click(buttons["Delete my characters too"], message)
    )
    assert answer.json["type"] == 7
    assert answer.json["data"]["content"].startswith("Done: I forgot you in this server. 4 job")
    assert "deleted 2 character(s)" in answer.json["data"]["content"]

    characters = sora.core.characters
    left = await characters.list_for_guild(GUILD_ID)
    assert [c.display_name for c in left] == ["Theirs 00"]
    assert await characters.count_for_guild(OTHER_GUILD_ID, creator_id=USER_ID) == 1
    jobs = await sora.core.jobs.list_for_guild(GUILD_ID, limit=50)
    assert all(job.requester_id != USER_ID for job in jobs)
    assert all(job.source_ref == "" for job in jobs if job.requester_id is None)

    # Usage still counts the three accepted jobs, now as anonymous rows.
    report = await usage_report(UsageRepository(sora.core.database), GUILD_ID)
    total, members = report.servers[GUILD_ID]
    assert total.jobs == (3, 3, 3) and total.failed == (3, 3, 3)
    assert [m.requester_id for m in members] == [None]

    # A second ask finds nothing left.
    again = await reply_to(sora, payloads.slash_command("forget-me", group="character"))
    assert "I keep nothing about you in this server" in again.json["data"]["content"]


async def test_forget_me_can_keep_my_characters_without_my_name(sora: Running):
    await seed(sora, GUILD_ID, 2, creator=USER_ID, name="Mine")
    _, message, buttons = await ask_forget(sora)
    answer = await reply_to(
        sora, payloads.component_click(buttons["Keep my characters, unattributed"], message)
    )
    assert "kept 2 character(s) you created, now without a creator" in str(answer.json)

    listing = await reply_to(sora, payloads.slash_command("list", group="character"))
    text = shown_text(listing)
    assert "Mine 00" in text and "Mine 01" in text
    assert f"<@{USER_ID}>" not in text and "by unknown" in text


async def test_forget_me_cancel_changes_nothing(sora: Running):
    await seed(sora, GUILD_ID, 1, creator=USER_ID)
    _, message, buttons = await ask_forget(sora)
    answer = await reply_to(sora, payloads.component_click(buttons["Cancel"], message))
    assert answer.json["data"]["content"] == "Nothing was changed."
    assert await sora.core.characters.count_for_guild(GUILD_ID, creator_id=USER_ID) == 1


@pytest_asyncio.fixture
async def online(tmp_path, fake_discord, simulator) -> AsyncIterator[tuple[Running, Clock]]:
    """A bot connected to the fake gateway (READY lists GUILD_ID only), on a test clock.

    Before it connects, both GUILD_ID and OTHER_GUILD_ID have characters stored."""
    running = await start_bot(bot_settings(tmp_path, fake_discord, simulator), fake_discord)
    clock = Clock()
    running.core.lifecycle.clock = clock
    await seed(running, GUILD_ID, 2, creator=USER_ID)
    await seed(running, OTHER_GUILD_ID, 3, creator=USER_ID)
    connection = asyncio.ensure_future(running.bot.connect(reconnect=False))
    try:
        await asyncio.wait_for(running.bot.wait_until_ready(), 20)
        # on_ready compares READY with the stored servers: OTHER_GUILD_ID is not listed.
        await _until_async(lambda: running.core.lifecycle.repository.left_at(OTHER_GUILD_ID), START)
        yield running, clock
    finally:
        await running.bot.close()
        await asyncio.wait({connection}, timeout=10)


async def purge(running: Running) -> None:
    """One run of the bot's periodic purge."""
    cog: Any = running.bot.get_cog("HousekeepingCog")
    await cog.purge()


async def counts(running: Running) -> tuple[int, int]:
    characters = running.core.characters
    return (
        await characters.count_for_guild(GUILD_ID),
        await characters.count_for_guild(OTHER_GUILD_ID),
    )


async def test_a_server_missing_from_ready_is_purged_after_30_days(online):
    running, clock = online
    lifecycle = running.core.lifecycle
    assert await lifecycle.repository.left_at(OTHER_GUILD_ID) == START
    assert await lifecycle.repository.left_at(GUILD_ID) is None

    clock.advance(29.9)
    await purge(running)
    assert await counts(running) == (2, 3)

    clock.advance(0.2)
    await purge(running)
    assert await counts(running) == (2, 0)
    assert await running.core.jobs.list_for_guild(OTHER_GUILD_ID) == []
    assert await running.core.jobs.list_for_guild(GUILD_ID) != []


async def test_guild_delete_then_purge_unless_the_bot_comes_back(online, fake_discord):
    running, clock = online
    lifecycle = running.core.lifecycle
    await fake_discord.gateway.dispatch("GUILD_DELETE", {"id": str(GUILD_ID)})
    await _until_async(lambda: lifecycle.repository.left_at(GUILD_ID), START)

    clock.advance(29)
    await purge(running)
    assert (await counts(running))[0] == 2
    await fake_discord.gateway.dispatch("GUILD_CREATE", payloads.guild())  # added back
    await _until_async(lambda: lifecycle.repository.left_at(GUILD_ID), None)

    clock.advance(60)
    await purge(running)
    assert (await counts(running))[0] == 2  # restored: nothing purged
    listing = await reply_to(running, payloads.slash_command("list", group="character"))
    assert "2 character(s)" in shown_text(listing)

    await fake_discord.gateway.dispatch("GUILD_DELETE", {"id": str(GUILD_ID)})
    await _until_async(lambda: lifecycle.repository.left_at(GUILD_ID), clock.now)
    clock.advance(31)
    await purge(running)
    assert (await counts(running))[0] == 0


async def test_an_outage_is_not_a_removal(online, fake_discord):
    running, clock = online
    await fake_discord.gateway.dispatch("GUILD_DELETE", {"id": str(GUILD_ID), "unavailable": True})
    clock.advance(31)
    # The outage marked nothing: a later leave would; this purge deletes the other server only.
    await purge(running)
    assert await running.core.lifecycle.repository.left_at(GUILD_ID) is None
    assert await counts(running) == (2, 0)


async def _until_async(read: Any, expected: Any) -> None:
    for _ in range(1000):
        if await read() == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never became {expected!r}")


async def test_finished_jobs_are_pruned_after_90_days_and_their_characters_stay(sora: Running):
    clock = Clock(START)
    sora.core.lifecycle.clock = clock
    await seed(sora, GUILD_ID, 2, creator=USER_ID)  # a job that finished now (real time)
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    clock.now = job.finished_at
    clock.advance(89)
    await purge(sora)
    assert await sora.core.jobs.get(job.id) is not None
    clock.advance(2)
    await purge(sora)
    assert await sora.core.jobs.get(job.id) is None
    listing = await reply_to(sora, payloads.slash_command("list", group="character"))
    assert "2 character(s)" in shown_text(listing)


async def test_webhook_events_handled_over_30_days_ago_are_pruned(sora: Running):
    events = sora.core.webhook_events
    said = '{"id": "task_old", "status": "completed"}'
    await events.receive("evt_handled", "generation.completed", "task_old", said)
    await events.handled("evt_handled")
    await events.receive("evt_waiting", "generation.completed", "task_old", said)
    clock = Clock(time.time())
    sora.core.lifecycle.clock = clock
    clock.advance(29)
    await purge(sora)
    assert await events.receive("evt_handled", "x", None) == "handled"  # still a duplicate
    clock.advance(2)
    await purge(sora)
    # Not applied yet: kept however old, so that the next start applies it.
    assert [e.event_id for e in await events.unhandled()] == ["evt_waiting"]
    assert await events.receive("evt_handled", "x", None) == "new"  # pruned


async def test_a_server_left_over_30_days_ago_is_purged_when_the_bot_starts(
    tmp_path, fake_discord, simulator
):
    import time

    from storage import RetentionRepository

    settings = bot_settings(tmp_path, fake_discord, simulator)
    first = await start_bot(settings, fake_discord)
    await seed(first, OTHER_GUILD_ID, 2)
    await first.bot.close()
    db = await open_database(settings.database_path)
    try:
        await RetentionRepository(db).mark_left([OTHER_GUILD_ID], time.time() - 31 * DAY)
    finally:
        await db.close()

    second = await start_bot(settings, fake_discord)
    try:
        characters = second.core.characters
        await _until_async(lambda: characters.count_for_guild(OTHER_GUILD_ID), 0)
        assert await second.core.jobs.list_for_guild(OTHER_GUILD_ID) == []
    finally:
        await second.bot.close()


async def test_help_tells_members_about_forget_me_and_the_purge(sora: Running):
    answer = await reply_to(sora, payloads.slash_command("help"))
    fields = {f["name"]: f["value"] for f in answer.json["data"]["embeds"][0]["fields"]}
    assert "`/character forget-me`" in fields["Your data"]
    assert "deleted after 30 days" in fields["Your data"]
