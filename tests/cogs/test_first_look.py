"""A job's first look (the clip about to be sent) survives Discord refusing it: the job
goes on and its card comes, shown where it still can be; nothing is dropped unless it can be
shown nowhere. Through real discord.py, the fake Discord and the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_bursts import until
from tests.cogs.test_character_create import BOT_EDIT, EDIT_REPLY, create, is_card
from tests.cogs.test_jobs_view import cancel_button, jobs_list
from tests.cogs.test_library import reply_to
from tests.cogs.test_limits import submits
from tests.cogs.test_video_create import characters, is_video, video, video_posts
from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, payloads
from tests.fakes.discord_rest import Hold
from tests.fakes.seen import buttons, shown_fields, shown_text

ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
POST_IN_CHANNEL = rf"/channels/{CHANNEL_ID}/messages"
IN_A_DM = rf"/channels/(?!{CHANNEL_ID})\d+/messages"
UNKNOWN_WEBHOOK = {"message": "Unknown Webhook", "code": 10015}
UNKNOWN_MESSAGE = {"message": "Unknown Message", "code": 10008}
DMS_CLOSED = {"message": "Cannot send messages to this user", "code": 50007}


def is_clip(call: Any) -> bool:
    return "Sending the request to toapis" in shown_text(call)


async def create_with_the_clip_held(sora: Running, url: str) -> Hold:
    """A create whose clip, the reply's first edit, Discord holds on its way (released by
    the test): what happens meanwhile happens before the clip is shown."""
    hold = sora.fake.hold_next("PATCH", ORIGINAL, is_clip)
    sora.feed(create(url=url))
    await hold.arrived.wait()
    return hold


async def test_a_token_that_died_while_the_video_was_prepared_shows_the_job_with_the_bot_token(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    sora.fake.fail_next("PATCH", ORIGINAL, 404, UNKNOWN_WEBHOOK, times=9)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    clip = await sora.wait_call("PATCH", BOT_EDIT, is_clip)
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert clip.path.endswith(f"/messages/{job.message_id}")  # the member's own reply
    assert card.path.endswith(f"/messages/{job.message_id}")
    assert submits(simulator) == 1


async def test_discord_failing_the_first_edit_keeps_the_job_and_its_card_comes(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    # Every try of discord.py (with the token, then the bot's) meets a 429 for the clip.
    sora.fake.rate_limit_next("PATCH", ORIGINAL, times=5)
    sora.fake.rate_limit_next("PATCH", BOT_EDIT, times=5)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert card.path.endswith(f"/messages/{job.message_id}")
    assert job.state.value == "completed"
    assert submits(simulator) == 1
    moved = [c for c in sora.fake.calls_to("POST", POST_IN_CHANNEL) if is_clip(c)]
    assert not moved  # the reply was there all along


async def test_a_reply_deleted_while_thinking_moves_the_job_to_a_new_message(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    hold = await create_with_the_clip_held(sora, f"{media_server}/{short_video.name}")
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert job.message_id is not None
    sora.fake.delete_message(job.message_id)  # a moderator, before the clip is shown
    hold.release()
    moved = await sora.wait_call("POST", POST_IN_CHANNEL, is_clip)
    assert f"<@{USER_ID}>: your job goes on in this message" in shown_text(moved)
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert job.state.value == "completed"
    assert card.path == f"/channels/{CHANNEL_ID}/messages/{job.message_id}"
    assert sora.fake.message(job.message_id) is not None  # the new message, now the card
    assert submits(simulator) == 1


async def test_a_deleted_reply_in_a_channel_closed_to_the_bot_moves_the_job_to_a_dm(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    sora.fake.fail_next("PATCH", ORIGINAL, 404, UNKNOWN_MESSAGE, times=9)
    sora.fake.deny_channel(CHANNEL_ID)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    moved = await sora.wait_call("POST", IN_A_DM, is_clip)
    assert "your job goes on in this message" in shown_text(moved)
    card = await sora.wait_call("PATCH", rf"/channels/(?!{CHANNEL_ID})\d+/messages/\d+", is_card)
    [job] = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert card.path == f"/channels/{job.channel_id}/messages/{job.message_id}"
    assert job.state.value == "completed" and submits(simulator) == 1


async def test_a_job_that_can_be_shown_nowhere_is_dropped_and_does_not_count(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    await sora.core.guild_settings.set(GUILD_ID, jobs_at_once=1)
    url = f"{media_server}/{short_video.name}"
    # The reply was deleted, the bot may not post in the channel, and the member's DMs
    # are closed.
    sora.fake.fail_next("PATCH", ORIGINAL, 404, UNKNOWN_MESSAGE, times=9)
    sora.fake.deny_channel(CHANNEL_ID)
    sora.fake.fail_next("POST", IN_A_DM, 403, DMS_CLOSED)
    sora.feed(create(url=url))

    async def dropped() -> bool:
        return not await sora.core.jobs.list_for_guild(GUILD_ID) and sora.core.tracker.running == 0

    await until(lambda: len(sora.fake.calls_to("POST", POST_IN_CHANNEL)) >= 1, "a new message")
    await until(dropped, "the job to be dropped")
    assert submits(simulator) == 0
    sora.fake.faults.rules.clear()
    sora.fake.channel_routes.denied.discard(CHANNEL_ID)
    # The member may ask again at once: the dropped job does not hold their one slot.
    sora.fake.clear()
    sora.feed(create(url=url))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert submits(simulator) == 1


async def test_a_retry_whose_reply_discord_refuses_is_still_sent_and_shown(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    simulator.scenario.update(server_errors=1)  # the first create ends Unknown, with Retry
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    unknown = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Unknown" in str(c.json))
    [retry] = [b for b in buttons(unknown) if "retry" in b["custom_id"]]
    await sora.settle()
    message = sora.fake.message(int(unknown.path.rsplit("/", 1)[1]))
    assert message is not None
    # The new reply's first edit meets 429s on every try, with the token and the bot's.
    sora.fake.rate_limit_next("PATCH", ORIGINAL, times=5)
    sora.fake.rate_limit_next("PATCH", BOT_EDIT, times=5)
    sora.feed(payloads.component_click(retry["custom_id"], message))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    jobs = await sora.core.jobs.list_for_guild(GUILD_ID)
    assert sorted(j.state.value for j in jobs) == ["completed", "failed"]  # sent again once
    [again] = [j for j in jobs if j.state.value == "completed"]
    assert card.path.endswith(f"/messages/{again.message_id}")
    assert submits(simulator) == 2


async def test_a_dead_token_in_a_channel_closed_to_the_bot_brings_the_card_by_dm(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    hold = await create_with_the_clip_held(sora, f"{media_server}/{short_video.name}")
    # The reply is there, but only the token could write in this channel, and it died
    # while the video was prepared.
    sora.fake.expire_interaction_tokens()
    sora.fake.deny_channel(CHANNEL_ID)
    hold.release()
    card = await sora.wait_call("POST", IN_A_DM, is_card)
    assert "Character id" in shown_fields(card)
    assert submits(simulator) == 1


async def test_a_job_cancelled_while_its_clip_is_shown_stays_cancelled(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    hold = await create_with_the_clip_held(sora, f"{media_server}/{short_video.name}")
    [job] = await sora.core.jobs.in_flight(GUILD_ID, USER_ID)
    data, message = await jobs_list(sora)
    await reply_to(sora, payloads.component_click(cancel_button(data, job.id), message))
    hold.release()  # the clip lands after the cancel's "Cancelled"

    def reply_says() -> str:  # what the member sees now (edits apply as they arrive)
        assert job.message_id is not None
        return shown_text(sora.fake.message(job.message_id))

    await until(lambda: "Sending the request" not in reply_says(), "the reply to settle")
    await sora.settle()
    assert "Cancelled" in reply_says()
    assert submits(simulator) == 0


async def test_a_video_whose_reply_was_deleted_while_thinking_comes_in_a_new_message(
    sora: Running, simulator: Any, media_server: str, short_video: Path
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    sora.fake.clear()
    hold = sora.fake.hold_next("PATCH", ORIGINAL, lambda c: "Making a video" in shown_text(c))
    sora.feed(video(prompt="rides a bike", character=hero.character_id))
    await hold.arrived.wait()
    [job] = await sora.core.jobs.in_flight(GUILD_ID, USER_ID)
    assert job.message_id is not None
    sora.fake.delete_message(job.message_id)  # a moderator, before the prompt is shown
    hold.release()
    moved = await sora.wait_call(
        "POST", POST_IN_CHANNEL, lambda c: "Making a video" in shown_text(c)
    )
    assert f"<@{USER_ID}>: your job goes on in this message" in shown_text(moved)
    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    [job] = [j for j in await sora.core.jobs.list_for_guild(GUILD_ID) if j.id == job.id]
    assert done.path == f"/channels/{CHANNEL_ID}/messages/{job.message_id}"
    assert len(video_posts(simulator)) == 1
