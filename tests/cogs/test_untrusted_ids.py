"""Ids inside a custom_id are the user's word: checked against the server before any read."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_library import MODAL, reply_to
from tests.fakes import CHANNEL_ID, OTHER_GUILD_ID, USER_ID, payloads, snowflake

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
