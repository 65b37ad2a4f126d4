"""Ids a member can send (in a custom_id, or as `from_task`) are the member's word: checked
against the server, and the member, before anything is read, sent or changed."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.domain.records import JobKind, JobState, NewCharacter, NewJob, SourceKind
from cogs.shared.components import Guarded
from cogs.shared.owned import FOREIGN
from tests.cogs.conftest import Running
from tests.cogs.test_bad_input import answered_after_defer
from tests.cogs.test_character_create import create
from tests.cogs.test_library import MODAL, reply_to
from tests.fakes import (
    CHANNEL_ID,
    GUILD_ID,
    OTHER_GUILD_ID,
    OTHER_USER_ID,
    USER_ID,
    payloads,
    snowflake,
)

EPHEMERAL = 64


def prompt_with(custom_id: str) -> dict[str, Any]:
    """A bot message carrying one button with `custom_id` (what a click is made on)."""
    button = {"type": 2, "style": 1, "label": "Create character", "custom_id": custom_id}
    return payloads.message(
        channel_id=CHANNEL_ID,
        author=payloads.bot_author(),
        components=[{"type": 1, "components": [button]}],
    )


async def test_a_forged_react_button_for_another_servers_channel_reads_nothing(sora: Running):
    foreign_channel = snowflake()
    sora.dispatch("GUILD_CREATE", payloads.guild())
    sora.dispatch(
        "GUILD_CREATE",
        payloads.guild(OTHER_GUILD_ID, channels=[payloads.channel(foreign_channel, None)]),
    )
    secret = payloads.message(
        channel_id=foreign_channel,
        guild_id=OTHER_GUILD_ID,
        content="https://host.example/private-clip.mp4",
    )
    sora.fake.add_message(secret)
    forged = f"sora:react:{foreign_channel}:{secret['id']}:{USER_ID}"
    prompt = sora.fake.add_message(prompt_with(forged))

    answer = await reply_to(sora, payloads.component_click(forged, prompt))

    assert answer.json["type"] != MODAL
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert "outside this server" in answer.json["data"]["content"]
    assert not [c for c in sora.fake.calls if f"/channels/{foreign_channel}" in c.path]


async def test_the_same_button_in_its_own_channel_opens_the_form(sora: Running):
    video = payloads.message(content="https://host.example/clip.mp4")
    sora.fake.add_message(video)
    button = f"sora:react:{CHANNEL_ID}:{video['id']}:{USER_ID}"
    prompt = sora.fake.add_message(prompt_with(button))
    answer = await reply_to(sora, payloads.component_click(button, prompt))
    assert answer.json["type"] == MODAL


# --- every button: an id of another server is refused before anything is read or sent ------


async def foreign_world(sora: Running) -> dict[str, Any]:
    """Another server's character, video and "unknown" jobs, and its character, all of
    USER_ID (a member of both servers): only the server tells them apart."""
    jobs = sora.core.jobs

    def job(kind: JobKind = JobKind.CHARACTER) -> NewJob:
        source = SourceKind.PROMPT if kind is JobKind.VIDEO else SourceKind.URL
        return NewJob(
            OTHER_GUILD_ID,
            source,
            "https://host.example/a.mp4",
            1,
            3,
            "sora-2",
            requester_id=USER_ID,
            kind=kind,
        )

    made = await jobs.create(job())
    await jobs.set_submitted(made.id, "task_foreign_character", JobState.QUEUED, 0)
    [character] = await jobs.complete(
        made.id,
        [
            NewCharacter(
                guild_id=OTHER_GUILD_ID,
                character_id="ch_foreign",
                task_id="task_foreign_character",
                display_name="Their Hero",
                username="their.hero",
                job_id=made.id,
                creator_id=USER_ID,
            )
        ],
    )
    video = await jobs.create(job(JobKind.VIDEO))
    await jobs.set_submitted(video.id, "task_foreign_video", JobState.QUEUED, 0)
    await jobs.complete_video(video.id, {"video_url": "https://host.example/v.mp4"})
    unknown = await jobs.create(job())
    await jobs.update_status(unknown.id, JobState.UNKNOWN, 0)
    for each in (made, video, unknown):
        await jobs.mark_announced(each.id)
    return {
        "character": character.character_id,
        "job": made.id,
        "video": video.id,
        "unknown": unknown.id,
    }


async def snapshot(sora: Running) -> tuple[Any, ...]:
    """What a foreign click could change: every job and character, both servers."""
    jobs = [
        (j.id, j.state, j.cancelled_at, j.task_id)
        for guild in (GUILD_ID, OTHER_GUILD_ID)
        for j in await sora.core.jobs.list_for_guild(guild)
    ]
    characters = [
        (c.character_id, c.display_name)
        for c in await sora.core.characters.list_for_guild(OTHER_GUILD_ID)
    ]
    return tuple(jobs), tuple(characters)


BUTTONS = {
    "Rename": "sora:rename:{character}",
    "Delete": "sora:delete:{character}",
    "Use in a video": "sora:vuse:{character}",
    "Create from same video": "sora:again:{job}",
    "Retry": "sora:retry:{unknown}",
    "Cancel": "sora:cancel:{job}",
    "Again (video)": "sora:vagain:{video}",
    "Make a character from this": "sora:vchar:{video}",
}


@pytest.mark.parametrize("template", BUTTONS.values(), ids=list(BUTTONS))
async def test_each_button_with_another_servers_id_is_refused_and_changes_nothing(
    sora: Running, simulator: Any, template: str
):
    world = await foreign_world(sora)
    before = await snapshot(sora)
    forged = template.format(**world)
    prompt = sora.fake.add_message(prompt_with(forged))

    answer = await reply_to(sora, payloads.component_click(forged, prompt))

    assert answer.json["type"] == 4  # a message, not a form
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert answer.json["data"]["content"] == FOREIGN
    await sora.settle()
    assert simulator.requests == []
    assert await snapshot(sora) == before


async def test_every_restart_proof_button_goes_through_the_shared_check(sora: Running):
    registered = sora.bot._connection._view_store._dynamic_items.values()
    assert {item.__name__ for item in registered} >= {
        "RenameButton",
        "DeleteButton",
        "AgainButton",
        "CreateFromMessageButton",
        "RetryButton",
        "CancelButton",
        "VideoAgainButton",
        "CharacterFromVideoButton",
        "UseInVideoButton",
        "SuggestionButton",
    }
    assert all(issubclass(item, Guarded) for item in registered)


def test_a_button_that_does_not_say_what_its_id_names_cannot_be_defined():
    with pytest.raises(TypeError, match="must say what its custom_id names"):

        class Careless(  # defining it is the test
            Guarded,
            discord.ui.DynamicItem[discord.ui.Button[Any]],
            template=r"sora:careless:(?P<job>\d+)",
        ):
            pass


# --- from_task: only tasks made for this server ------------------------------------------


@pytest.mark.parametrize(
    "task_id",
    ["task_foreign_video", "task_foreign_character", "task_01KBYT59JDHB4A3KDDR9N9JVWP"],
    ids=["another server's video", "another server's character", "no server's"],
)
async def test_from_task_of_a_task_not_made_in_this_server_is_refused(
    sora: Running, simulator: Any, task_id: str
):
    await foreign_world(sora)
    before = await snapshot(sora)

    said = await answered_after_defer(sora, create(from_task=task_id))

    assert said.startswith("That task was not made in this server")
    await sora.settle()
    assert simulator.requests == []
    assert await snapshot(sora) == before


# --- the reaction button: a channel the member can see ------------------------------------

VIEW_CHANNEL = 1 << 10


def private_server(private_id: int, staff_role: int) -> dict[str, Any]:
    """This server with #general and a channel hidden from @everyone, shown to Staff."""
    hidden = payloads.channel(private_id, None, "staff-only")
    hidden["permission_overwrites"] = [
        {"id": str(GUILD_ID), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
        {"id": str(staff_role), "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"},
    ]
    server = payloads.guild(channels=[payloads.channel(CHANNEL_ID, None), hidden])
    staff = payloads.everyone_role(GUILD_ID, "0")
    staff.update(id=str(staff_role), name="Staff", position=1)
    server["roles"].append(staff)
    return server


async def hidden_video_button(sora: Running, user_id: int) -> tuple[str, dict[str, Any], int]:
    """A react button, shown in #general, for a video in the hidden channel."""
    private, staff_role = snowflake(), snowflake()
    sora.dispatch("GUILD_CREATE", private_server(private, staff_role))
    video = payloads.message(channel_id=private, content="https://host.example/staff-clip.mp4")
    sora.fake.add_message(video)
    button = f"sora:react:{private}:{video['id']}:{user_id}"
    return button, sora.fake.add_message(prompt_with(button)), staff_role


async def test_a_react_button_for_a_channel_the_member_cannot_see_reads_nothing(sora: Running):
    button, prompt, _ = await hidden_video_button(sora, USER_ID)
    private = button.split(":")[2]

    answer = await reply_to(sora, payloads.component_click(button, prompt))

    assert answer.json["type"] != MODAL
    assert answer.json["data"]["flags"] == EPHEMERAL
    assert "a channel you cannot see" in answer.json["data"]["content"]
    assert not [c for c in sora.fake.calls if f"/channels/{private}" in c.path]


async def test_a_member_whose_role_sees_the_channel_gets_the_form(sora: Running):
    member_id = snowflake()
    button, prompt, staff_role = await hidden_video_button(sora, member_id)
    click = payloads.component_click(button, prompt, user_id=member_id)
    click["member"]["roles"] = [str(staff_role)]

    answer = await reply_to(sora, click)

    assert answer.json["type"] == MODAL


async def hidden_job(sora: Running, kind: JobKind) -> tuple[int, int]:
    """A finished job of this server asked for, from a posted video, in the hidden channel."""
    private, staff_role = snowflake(), snowflake()
    sora.dispatch("GUILD_CREATE", private_server(private, staff_role))
    posted = payloads.message(channel_id=private, content="https://host.example/staff-clip.mp4")
    sora.fake.add_message(posted)
    source = SourceKind.PROMPT if kind is JobKind.VIDEO else SourceKind.URL
    job = await sora.core.jobs.create(
        NewJob(
            GUILD_ID,
            source,
            "https://host.example/staff-clip.mp4",
            1,
            3,
            "sora-2",
            channel_id=private,
            requester_id=OTHER_USER_ID,
            meta={"channel_id": private, "message_id": int(posted["id"])},
            kind=kind,
        )
    )
    await sora.core.jobs.set_submitted(job.id, "task_staff_only", JobState.QUEUED, 0)
    await sora.core.jobs.complete_video(job.id, {"video_url": "https://host.example/v.mp4"})
    await sora.core.jobs.mark_announced(job.id)
    return job.id, staff_role


JOB_BUTTONS = {
    "Create from same video": ("sora:again:{}", JobKind.CHARACTER),
    "Again (video)": ("sora:vagain:{}", JobKind.VIDEO),
    "Make a character from this": ("sora:vchar:{}", JobKind.VIDEO),
}


@pytest.mark.parametrize(("template", "kind"), JOB_BUTTONS.values(), ids=list(JOB_BUTTONS))
async def test_a_job_button_for_a_job_of_a_channel_the_member_cannot_see_is_refused(
    sora: Running, simulator: Any, template: str, kind: JobKind
):
    job_id, _ = await hidden_job(sora, kind)
    button = template.format(job_id)
    prompt = sora.fake.add_message(prompt_with(button))  # shown in #general

    answer = await reply_to(sora, payloads.component_click(button, prompt))

    assert answer.json["type"] == 4 and answer.json["data"]["flags"] == EPHEMERAL
    assert "a channel you cannot see" in answer.json["data"]["content"]
    await sora.settle()
    assert simulator.requests == []


async def test_staff_who_see_that_channel_may_make_a_character_from_its_video(sora: Running):
    job_id, staff_role = await hidden_job(sora, JobKind.VIDEO)
    button = f"sora:vchar:{job_id}"
    prompt = sora.fake.add_message(prompt_with(button))
    click = payloads.component_click(button, prompt, user_id=snowflake())
    click["member"]["roles"] = [str(staff_role)]

    answer = await reply_to(sora, click)

    assert answer.json["type"] == MODAL
