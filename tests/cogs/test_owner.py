"""The bot owner's controls: pause, global daily cap, blocks; owners only, in their server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_library import reply_to
from tests.cogs.test_limits import private_answer, submits
from tests.fakes import GUILD_ID, OTHER_GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import shown_fields

APP_OWNER = OTHER_USER_ID  # the fake application's owner


def owner(command: str, options: Any = None, user_id: int = APP_OWNER) -> dict[str, Any]:
    return payloads.slash_command(command, options, group="owner", user_id=user_id)


async def test_only_owners_may_use_the_owner_commands(sora: Running) -> None:
    text = await private_answer(sora, owner("pause", {"message": "no"}, user_id=USER_ID))
    assert text == "Only the bot's owner can use this."
    assert (await sora.core.owner.get()).paused is None


async def test_pause_refuses_new_jobs_everywhere_until_resumed(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    url = f"{media_server}/{short_video.name}"
    answer = await reply_to(sora, owner("pause", {"message": "back tomorrow"}))
    assert answer.json["data"]["content"] == "New jobs are paused everywhere."
    text = await private_answer(sora, create(url=url))
    assert text == "New jobs are paused by the bot owner: back tomorrow"
    assert submits(simulator) == 0

    await reply_to(sora, owner("resume"))
    sora.fake.clear()
    sora.feed(create(url=url))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert submits(simulator) == 1


async def test_blocks_and_the_global_cap(
    tmp_path: Path, fake_discord: Any, simulator: Any, media_server: str, short_video: Any
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator, owner_ids=f"{USER_ID}")
    sora = await start_bot(settings, fake_discord)
    url = f"{media_server}/{short_video.name}"
    try:
        await reply_to(sora, owner("block", {"server_id": str(GUILD_ID)}, user_id=USER_ID))
        text = await private_answer(sora, create(url=url))
        assert text == "The bot owner has turned this bot off for this server."
        await reply_to(sora, owner("unblock", {"server_id": str(GUILD_ID)}, user_id=USER_ID))

        member = {"name": "member", "type": 6, "value": str(OTHER_USER_ID)}
        blocked = owner("block", [member], user_id=USER_ID)
        blocked["data"]["resolved"] = {"users": {str(OTHER_USER_ID): payloads.user(OTHER_USER_ID)}}
        await reply_to(sora, blocked)
        text = await private_answer(sora, create(url=url, user_id=OTHER_USER_ID))
        assert text == "The bot owner has blocked you from creating characters."

        await reply_to(sora, owner("cap", {"jobs": 1}, user_id=USER_ID))
        sora.fake.clear()
        sora.feed(create(url=url))
        await sora.wait_call("PATCH", EDIT_REPLY, is_card)
        await sora.settle()
        text = await private_answer(sora, create(url=url, start="2", end="3"))
        assert text.startswith("The bot has used all its jobs for today (UTC): try again in ")
        assert submits(simulator) == 1
    finally:
        await sora.bot.close()


async def test_owner_commands_are_registered_only_in_the_owner_server(
    tmp_path: Path, fake_discord: Any, simulator: Any
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator, owner_guild_id=OTHER_GUILD_ID)
    sora = await start_bot(settings, fake_discord)
    try:
        global_names = {c["name"] for c in fake_discord.commands.get(None, [])}
        owner_names = {c["name"] for c in fake_discord.commands.get(OTHER_GUILD_ID, [])}
        assert "character" in global_names and "owner" not in global_names
        assert owner_names == {"owner"}
    finally:
        await sora.bot.close()


async def test_usage_shows_jobs_per_server_and_member(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    text = await private_answer(sora, owner("usage"))
    assert f"server {GUILD_ID}" in text and f"member {USER_ID}" in text
    assert "1 (0)" in text  # one job accepted today, none failed
    refused = await private_answer(sora, owner("usage", user_id=USER_ID))
    assert refused == "Only the bot's owner can use this."


async def test_a_held_line_dms_the_owner_once_and_pause_keeps_queued_jobs_queued(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(out_of_credit=True)
    url = f"{media_server}/{short_video.name}"
    sora.feed(create(url=url))
    opened = await sora.wait_call("POST", r"/users/@me/channels")
    assert isinstance(opened.json, dict) and int(opened.json["recipient_id"]) == APP_OWNER
    told = await sora.wait_call(
        "POST", r"/channels/\d+/messages", lambda c: "top-up" in str(c.json)
    )
    assert "holding 1 queued job(s)" in str(told.json)
    sora.feed(create(url=url, start="2", end="3"))  # a second job while held: no second DM
    await asyncio.sleep(0.3)
    assert len(sora.fake.calls_to("POST", r"/users/@me/channels")) == 1

    # The owner pauses: topped up meanwhile, but nothing is sent while paused.
    await reply_to(sora, owner("pause", {"message": "maintenance"}))
    simulator.scenario.update(out_of_credit=False)
    sora.core.tracker.line.accepted()  # as if the hold had ended
    before = simulator.submits
    await asyncio.sleep(0.5)
    assert simulator.submits == before
    await reply_to(sora, owner("resume"))
    for _ in range(500):
        if simulator.submits >= before + 2:
            break
        await asyncio.sleep(0.02)
    assert simulator.submits == before + 2  # both queued jobs were sent after the pause


ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
GONE_FIELD = "Models the service said are gone"
BALANCE = "/v1/user/balance"


def balance_reads(simulator: Any) -> int:
    return sum(1 for r in simulator.requests if r.path == BALANCE)


async def owner_status(sora: Running) -> dict[str, str]:
    """`/owner status` (deferred, then the original answer edited): its fields."""
    sora.fake.clear()
    sora.feed(owner("status"))
    call = await sora.wait_call("PATCH", ORIGINAL, lambda c: "Owner controls" in str(c.json))
    return shown_fields(call)


async def test_status_shows_the_credit_and_the_models_the_service_said_are_gone(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(credits=1234.0, retired_models=["sora-2-pro"])
    shown = await owner_status(sora)
    assert shown["toapis credit"] == "1,234 credits (about $6.17)"
    assert shown[GONE_FIELD] == "none"

    sora.feed(create(url=f"{media_server}/{short_video.name}", model="sora-2-pro"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Couldn't" in str(c.json))
    simulator.scenario.update(out_of_credit=True)
    shown = await owner_status(sora)
    assert shown["toapis credit"] == (
        "0 credits (about $0.00): top it up in the toapis console; creating fails until then"
    )
    assert shown[GONE_FIELD] == (  # the model, then the service's own words
        "`sora-2-pro`: The model `sora-2-pro` does not exist or is not available"
    )

    simulator.scenario.update(api_key="rotated-key")  # the balance cannot be read
    shown = await owner_status(sora)
    assert shown["toapis credit"].startswith("could not read the balance (")
    assert shown["Blocked members"] == "none"  # the rest of the status is still there
    assert simulator.submits == 0


async def test_a_top_up_ends_the_hold_at_the_next_balance_read_and_the_cards_follow(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    line = sora.core.tracker.line
    line.hold_retry = 3600  # the backoff alone would hold the line for an hour
    line.credit_check = 0.05  # 30 s in production
    simulator.scenario.update(out_of_credit=True)
    url = f"{media_server}/{short_video.name}"
    sora.feed(create(url=url))
    sora.feed(create(url=url, start="2", end="4"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "needs a top-up" in str(c.json))
    reads = balance_reads(simulator)
    for _ in range(1500):  # read while held: still empty, nothing sent
        if balance_reads(simulator) >= reads + 2:
            break
        await asyncio.sleep(0.02)
    assert balance_reads(simulator) >= reads + 2
    assert simulator.submits == 0 and line.held == "PaymentRequiredError"

    topped_up = len(simulator.requests)
    simulator.scenario.update(out_of_credit=False)
    for _ in range(1500):
        cards = {c.path for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)}
        if len(cards) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(cards) == 2 and simulator.submits == 2
    sent = [
        (r.method, r.path)
        for r in simulator.requests[topped_up:]
        if r.path in (BALANCE, "/v1/videos/generations")
    ]
    # The read after the top-up saw the credit; then both waiting jobs were sent.
    assert sent == [("GET", BALANCE)] + [("POST", "/v1/videos/generations")] * 2
