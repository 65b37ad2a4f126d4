"""`/character jobs` and Cancel: before sending nothing is charged; after sending the member
hears no more and a late result is stored without a ping."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.records import JobState
from cogs.shared.owned import FOREIGN
from tests.cogs.conftest import Running
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_library import reply_to
from tests.cogs.test_limits import submits
from tests.fakes import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import shown_text


async def jobs_list(sora: Running, user_id: int = USER_ID) -> tuple[dict[str, Any], Any]:
    asked = payloads.slash_command("jobs", {}, group="character", user_id=user_id)
    call = await reply_to(sora, asked)
    message_id = sora.fake.store.thread(asked["token"]).original_id
    assert message_id is not None
    return call.json["data"], sora.fake.message(message_id)


def cancel_button(data: dict[str, Any], job_id: int) -> str:
    for row in data["components"]:
        for button in row["components"]:
            if button["label"] == f"Cancel #{job_id}":
                return str(button["custom_id"])
    raise AssertionError(f"no Cancel #{job_id} in {data['components']}")


async def until(condition: Any, what: str) -> None:
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_cancel_after_sending_silences_the_job_and_keeps_a_late_result(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(hang=True)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "%" in str(c.json))
    [job] = await sora.core.jobs.in_flight(GUILD_ID, USER_ID)

    data, message = await jobs_list(sora)
    assert f"**#{job.id}**" in data["embeds"][0]["description"]
    answer = await reply_to(sora, payloads.component_click(cancel_button(data, job.id), message))
    assert answer.json["type"] == 7 and answer.json["data"]["content"] == f"Cancelled #{job.id}."
    shown = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Cancelled" in str(c.json))
    assert "may still finish" in shown_text(shown)

    sora.fake.clear()
    simulator.scenario.update(hang=False)  # toapis finishes anyway

    async def stored() -> bool:
        return bool(await sora.core.characters.list_for_guild(GUILD_ID))

    await until(stored, "the late character to be stored")
    await sora.settle()
    assert not [c for c in sora.fake.calls if is_card(c)]  # no card edit
    assert not sora.fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")  # no ping
    assert (await sora.core.jobs.get(job.id)).state is JobState.COMPLETED


async def test_cancel_before_sending_charges_nothing(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(rate_limit_submits=1, retry_after=600)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "retrying" in str(c.json))
    [job] = await sora.core.jobs.in_flight(GUILD_ID, USER_ID)
    assert job.state is JobState.WAITING

    data, message = await jobs_list(sora)
    await reply_to(sora, payloads.component_click(cancel_button(data, job.id), message))
    shown = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Cancelled" in str(c.json))
    assert "nothing was charged" in shown_text(shown)
    stored = await sora.core.jobs.get(job.id)
    assert stored.state is JobState.FAILED and stored.error_code == "cancelled"
    assert simulator.submits == 0 and submits(simulator) == 1  # the one refused attempt


async def test_only_the_requester_or_an_admin_may_cancel(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    simulator.scenario.update(hang=True)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "%" in str(c.json))
    [job] = await sora.core.jobs.in_flight(GUILD_ID, USER_ID)
    data, message = await jobs_list(sora)
    button = cancel_button(data, job.id)

    other = await reply_to(sora, payloads.component_click(button, message, user_id=OTHER_USER_ID))
    assert "Only the person who asked" in other.json["data"]["content"]
    forged = payloads.component_click(button, message, guild_id=GUILD_ID + 1)
    answer = await reply_to(sora, forged)
    assert answer.json["data"]["content"] == FOREIGN  # another server's id: the shared check
    assert (await sora.core.jobs.get(job.id)).cancelled_at is None
    simulator.scenario.update(hang=False)
