"""Who may spend the account: server settings and limits, refused privately at every entry
point before any media work or API call, through real discord.py and the fake Discord."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_character_create import CALLBACK, EDIT_REPLY, EPHEMERAL, create, is_card
from tests.cogs.test_library import MODAL, reply_to
from tests.fakes import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import buttons as buttons_in

MANAGE_GUILD = str(1 << 5)
OTHER_CHANNEL = CHANNEL_ID + 7
SUBMIT = "/v1/videos/generations"


def submits(simulator: Any) -> int:
    return sum(1 for r in simulator.requests if r[1] == SUBMIT)


def settings(command: str, options: Any, **kw: Any) -> dict[str, Any]:
    return payloads.slash_command(
        command, options, group="settings", permissions=MANAGE_GUILD, **kw
    )


async def until_submits(simulator: Any, count: int) -> None:
    """Wait until `count` create requests reached the simulator."""
    for _ in range(1000):
        if submits(simulator) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{submits(simulator)} create requests, not {count}")


async def private_answer(sora: Running, payload: dict[str, Any]) -> str:
    call = await reply_to(sora, payload)
    assert isinstance(call.json, dict)
    assert call.json["type"] == 4 and call.json["data"]["flags"] == EPHEMERAL, call.json
    return str(call.json["data"].get("content") or "")


async def one_card(sora: Running, url: str, user_id: int = USER_ID) -> None:
    sora.fake.clear()
    sora.feed(create(url=url, user_id=user_id))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()


async def test_settings_show_and_change_every_value(sora: Running) -> None:
    shown = await reply_to(sora, settings("show", {}))
    fields = {f["name"]: f["value"] for f in shown.json["data"]["embeds"][0]["fields"]}
    assert fields["Channels"] == "every channel" and fields["Who may create"] == "everyone"
    assert fields["Jobs at once, per member"] == "2"
    assert fields["Jobs per day, per member"] == "10"
    assert fields["Jobs per day, server"] == "100"

    await reply_to(sora, settings("limits", {"at_once": 3, "per_day": 4, "server_per_day": 50}))
    changed = await sora.core.guild_settings.get(GUILD_ID)
    assert (changed.jobs_at_once, changed.jobs_per_day, changed.server_jobs_per_day) == (3, 4, 50)
    model = {"name": "model", "type": 3, "value": "sora-2-pro"}
    await reply_to(sora, settings("default-model", [model]))
    assert (await sora.core.guild_settings.get(GUILD_ID)).default_model == "sora-2-pro"

    refused = await private_answer(
        sora, payloads.slash_command("limits", {"at_once": 5}, group="settings")
    )
    assert refused == "You need the Manage Server permission to change settings."
    assert (await sora.core.guild_settings.get(GUILD_ID)).jobs_at_once == 3


async def test_jobs_at_once_are_refused_before_any_media_work(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(hang=True)
    url = f"{media_server}/{short_video.name}"
    for start in ("1", "2"):
        sora.feed(create(url=url, start=start, end=str(int(start) + 1)))
        await until_submits(simulator, int(start))
    jobs_before = [j.id for j in await sora.core.jobs.list_for_guild(GUILD_ID)]

    text = await private_answer(sora, create(url=url))
    assert text == (
        "You have 2 jobs running or waiting; this server allows 2 at once. Wait for one to finish."
    )
    assert submits(simulator) == 2
    stored = [j.id for j in await sora.core.jobs.list_for_guild(GUILD_ID)]
    assert stored == jobs_before  # nothing stored for the refused one
    # Another member is not affected.
    sora.feed(create(url=url, user_id=OTHER_USER_ID))
    await until_submits(simulator, 3)
    simulator.scenario.update(hang=False)


async def test_daily_limits_say_when_to_come_back_and_reset_at_utc_midnight(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, jobs_per_day=1, server_jobs_per_day=2)
    url = f"{media_server}/{short_video.name}"
    today = datetime.now(UTC).replace(hour=22, minute=47, second=30, microsecond=0)
    now = [today.timestamp()]
    sora.core.limits._clock = lambda: now[0]

    await one_card(sora, url)
    text = await private_answer(sora, create(url=url))
    assert text == "You have used your 1 jobs for today (UTC): try again in 1 h 12 min."
    await one_card(sora, url, OTHER_USER_ID)  # another member still may
    text = await private_answer(sora, create(url=url, user_id=OTHER_USER_ID + 1))
    assert text == "This server has used its 2 jobs for today (UTC): try again in 1 h 12 min."
    assert submits(simulator) == 2

    now[0] = today.replace(hour=0, minute=0, second=1).timestamp() + 86400  # the next day
    await one_card(sora, url)
    assert submits(simulator) == 3


async def test_channels_and_creator_role_are_enforced_for_members_not_admins(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    url = f"{media_server}/{short_video.name}"
    await sora.core.guild_settings.set(GUILD_ID, channels=[OTHER_CHANNEL])
    text = await private_answer(sora, create(url=url))
    assert text == f"I only take jobs in <#{OTHER_CHANNEL}> in this server."

    role = GUILD_ID + 55
    await sora.core.guild_settings.set(GUILD_ID, channels=[], creator_role=role)
    text = await private_answer(sora, create(url=url))
    assert text == f"Creating characters here needs the <@&{role}> role."
    assert submits(simulator) == 0

    # Someone with Manage Server is not bound by channels or the role.
    sora.fake.clear()
    admin = create(url=url)
    admin["member"]["permissions"] = MANAGE_GUILD
    sora.feed(admin)
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert submits(simulator) == 1


async def test_the_context_menu_is_refused_before_its_form_opens(
    sora: Running, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, channels=[OTHER_CHANNEL])
    sora.fake.add_media("posted.mp4", short_video)
    posted = payloads.message(
        content="look",
        attachments=[sora.fake.media_attachment("posted.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(posted)
    call = await reply_to(sora, payloads.message_command("Create Sora character", posted))
    assert call.json["type"] != MODAL
    assert call.json["data"]["content"] == f"I only take jobs in <#{OTHER_CHANNEL}> in this server."
    assert sora.fake.calls_to("POST", CALLBACK) == [call]


async def test_create_from_same_video_is_refused_before_its_form_opens(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, jobs_per_day=1)
    await one_card(sora, f"{media_server}/{short_video.name}")
    [card_call] = [c for c in sora.fake.calls if is_card(c)]
    card = sora.fake.message(int(card_call.path.rsplit("/", 1)[1]))
    assert card is not None
    buttons = {b["label"]: b["custom_id"] for b in buttons_in(card)}
    call = await reply_to(sora, payloads.component_click(buttons["Create from same video"], card))
    assert call.json["type"] != MODAL
    assert call.json["data"]["content"].startswith("You have used your 1 jobs for today (UTC)")
    assert submits(simulator) == 1


async def test_the_reaction_button_is_refused_before_its_form_opens(
    sora: Running, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, auto_react=True, channels=[OTHER_CHANNEL])
    sora.fake.add_media("dance.mp4", short_video)
    video_message = payloads.message(
        content="",
        attachments=[sora.fake.media_attachment("dance.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(video_message)
    sora.dispatch("GUILD_CREATE", payloads.guild())
    sora.dispatch("MESSAGE_CREATE", video_message)
    await sora.wait_call("PUT", rf"/channels/{CHANNEL_ID}/messages/\d+/reactions/.+")
    sora.fake.clear()
    sora.dispatch(
        "MESSAGE_REACTION_ADD",
        payloads.reaction_add(
            int(video_message["id"]), "🎭", user_id=USER_ID, message_author_id=OTHER_USER_ID
        ),
    )
    prompt = await sora.wait_call("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert isinstance(prompt.json, dict)
    button = prompt.json["components"][0]["components"][0]
    prompt_message = sora.fake.messages_in(CHANNEL_ID)[-1]
    call = await reply_to(sora, payloads.component_click(button["custom_id"], prompt_message))
    assert call.json["type"] != MODAL
    assert call.json["data"]["content"] == f"I only take jobs in <#{OTHER_CHANNEL}> in this server."


async def test_retry_is_refused_before_anything_is_sent_again(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(server_errors=1)  # the create request's fate is unknown
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Unknown" in str(c.json))
    await sora.settle()
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    message = sora.fake.message(job.message_id or 0)
    assert message is not None
    [retry] = buttons_in(message)
    await sora.core.owner.change(paused="back soon")
    call = await reply_to(sora, payloads.component_click(retry["custom_id"], message))
    assert call.json["data"]["content"] == "New jobs are paused by the bot owner: back soon"
    assert submits(simulator) == 1  # not sent again
    assert (await sora.core.jobs.get(job.id)).state.value == "unknown"  # still retryable


async def test_a_burst_cannot_pass_the_daily_limit_before_toapis_accepts_it(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, jobs_per_day=2, jobs_at_once=5)
    simulator.scenario.update(out_of_credit=True)  # nothing is accepted: the line holds
    url = f"{media_server}/{short_video.name}"
    for start in ("1", "2"):
        sora.feed(create(url=url, start=start, end=str(int(start) + 1)))
    for _ in range(500):
        if len(await sora.core.jobs.in_flight(GUILD_ID, USER_ID)) == 2:
            break
        await asyncio.sleep(0.02)
    text = await private_answer(sora, create(url=url, start="3", end="4"))
    assert text.startswith("You have used your 2 jobs for today (UTC)")
