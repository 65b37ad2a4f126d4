"""Video jobs as a member lives them, through real discord.py, the fake Discord and the
simulator: a restart mid-job, "Make a character from this", limits shared with character
jobs, and "Again"."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_library import MODAL, modal_values, reply_to
from tests.cogs.test_limits import private_answer, until_submits
from tests.cogs.test_video_create import characters, is_video, video, video_posts
from tests.fakes import GUILD_ID, OTHER_USER_ID, payloads
from tests.fakes.seen import buttons

SUBMIT = "/v1/videos/generations"


def character_posts(simulator: Any) -> list[Any]:
    return [
        r.body for r in simulator.requests if r.path == SUBMIT and r.body and "prompt" not in r.body
    ]


def buttons_of(fake: Any, call: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted video message and its buttons, label -> custom_id."""
    message = fake.message(int(call.path.rsplit("/", 1)[1]))
    assert message is not None
    found = {c["label"]: c["custom_id"] for c in buttons(message)}
    return message, found


async def test_restart_mid_video_posts_the_video_once(
    tmp_path: Any, fake_discord: Any, simulator: Any, media_server: str, short_video: Any
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator)
    first = await start_bot(settings, fake_discord)
    try:
        [hero] = await characters(first, media_server, short_video, 1)
        simulator.scenario.update(hang=True)
        first.fake.clear()
        first.feed(video(prompt="runs", character=hero.character_id))
        await until_submits(simulator, 2)  # the character, then the video
        [job] = [
            j for j in await first.core.jobs.list_for_guild(GUILD_ID) if j.kind.value == "video"
        ]
        for _ in range(200):  # toapis answered: the task id is stored
            job = await first.core.jobs.get(job.id)
            if job.task_id:
                break
            await asyncio.sleep(0.02)
        assert job.task_id
    finally:
        await first.bot.close()
    assert not [c for c in fake_discord.calls if is_video(c)]

    simulator.scenario.update(hang=False)
    second = await start_bot(settings, fake_discord)
    try:
        await second.wait_call("PATCH", EDIT_REPLY, is_video)
        await second.settle()
        posted = [c for c in fake_discord.calls if is_video(c)]
        assert len(posted) == 1
        assert len(video_posts(simulator)) == 1  # not sent again
    finally:
        await second.bot.close()


async def test_make_a_character_from_this_sends_from_task(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    sora.fake.clear()
    sora.feed(video(prompt="dances", character=hero.character_id))
    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    await sora.settle()
    [job] = [j for j in await sora.core.jobs.list_for_guild(GUILD_ID) if j.kind.value == "video"]
    message, buttons = buttons_of(sora.fake, done)

    form = await reply_to(
        sora, payloads.component_click(buttons["Make a character from this"], message)
    )
    assert form.json["type"] == MODAL
    custom_id, values = modal_values(form.json, start="2", end="4")
    sora.fake.clear()
    sora.feed(payloads.modal_submit(custom_id, values, message=message))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    last = character_posts(simulator)[-1]
    assert last["from_task"] == job.task_id and last["timestamps"] == "2,4"
    assert "url" not in last
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 2


async def test_jobs_at_once_counts_character_and_video_jobs_together(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    await sora.core.guild_settings.set(GUILD_ID, jobs_at_once=1)
    simulator.scenario.update(hang=True)
    url = f"{media_server}/{short_video.name}"
    busy = "You have 1 job running or waiting; this server allows 1 at once."

    sora.feed(create(url=url))  # a character job in flight
    await until_submits(simulator, 2)
    text = await private_answer(sora, video(prompt="waves", character=hero.character_id))
    assert text.startswith(busy)
    assert video_posts(simulator) == []

    other = video(prompt="waves", character=hero.character_id)
    other["member"]["user"] = payloads.user(OTHER_USER_ID, "other")
    sora.feed(other)  # a video job in flight, for another member
    await until_submits(simulator, 3)
    text = await private_answer(sora, create(url=url, user_id=OTHER_USER_ID))
    assert text.startswith(busy)
    assert len(character_posts(simulator)) == 2  # the first character and the hung one only
    simulator.scenario.update(hang=False)


async def test_again_sends_the_same_settings_again(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    two = await characters(sora, media_server, short_video, 2)
    sora.fake.clear()
    sora.feed(
        video(
            prompt="share a pizza",
            character=two[0].character_id,
            character2=two[1].character_id,
            model="sora-2-pro",
            duration=25,
            aspect_ratio="9:16",
        )
    )
    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    await sora.settle()
    message, buttons = buttons_of(sora.fake, done)
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons["Again"], message))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    await sora.settle()
    first, again = video_posts(simulator)
    assert first == again
    assert (again["model"], again["duration"], again["aspect_ratio"]) == ("sora-2-pro", 25, "9:16")
    assert all(f"@{c.username}" in again["prompt"] for c in two)
