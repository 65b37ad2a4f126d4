"""/settings auto-react and the reaction flow, end to end with real payloads."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_character_create import EDIT_REPLY, is_card
from tests.cogs.test_library import CALLBACK, MODAL, NO_PERMISSIONS, modal_values, reply_to
from tests.fakes import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.ids import DEFAULT_PERMISSIONS

REACTION = r"/channels/\d+/messages/\d+/reactions/.+/@me"
MANAGE_SERVER = str(int(DEFAULT_PERMISSIONS) | 1 << 5)


def auto_react(enabled: bool, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("permissions", MANAGE_SERVER)
    return payloads.slash_command("auto-react", {"enabled": enabled}, group="settings", **kwargs)


async def test_setting_is_for_manage_server_members(sora: Running):
    synced = {c["name"]: c for c in sora.fake.commands[None]}
    assert str(synced["settings"]["default_member_permissions"]) == "32"  # hidden from members
    denied = await reply_to(
        sora, auto_react(True, user_id=OTHER_USER_ID, permissions=NO_PERMISSIONS)
    )
    assert "Manage Server" in denied.json["data"]["content"]
    assert (await sora.core.guild_settings.get(GUILD_ID)).auto_react is False


async def test_reaction_flow_from_a_posted_video_to_the_card(sora: Running, simulator, short_video):
    posted_media = sora.fake.add_media("dance.mp4", short_video)
    assert posted_media
    video_message = payloads.message(
        content="",
        attachments=[sora.fake.media_attachment("dance.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(video_message)
    sora.dispatch("GUILD_CREATE", payloads.guild())

    sora.dispatch("MESSAGE_CREATE", video_message)
    assert not sora.fake.calls_to("PUT", REACTION)  # off by default: no reaction

    answer = await reply_to(sora, auto_react(True))
    assert "**on**" in answer.json["data"]["content"]
    sora.dispatch("MESSAGE_CREATE", video_message)
    await sora.wait_call("PUT", REACTION)

    sora.fake.clear()
    sora.dispatch(
        "MESSAGE_REACTION_ADD",
        payloads.reaction_add(
            int(video_message["id"]), "🎭", user_id=USER_ID, message_author_id=OTHER_USER_ID
        ),
    )
    prompt = await sora.wait_call("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert isinstance(prompt.json, dict)
    assert f"<@{USER_ID}>" in prompt.json["content"]
    button = prompt.json["components"][0]["components"][0]
    assert button["label"] == "Create character"
    prompt_message = sora.fake.messages_in(CHANNEL_ID)[-1]

    # Toggling the reaction, or 🎭 on a message the bot did not offer, posts nothing more.
    again = payloads.reaction_add(
        int(video_message["id"]), "🎭", user_id=USER_ID, message_author_id=OTHER_USER_ID
    )
    sora.dispatch("MESSAGE_REACTION_ADD", again)
    sora.dispatch(
        "MESSAGE_REACTION_ADD",
        payloads.reaction_add(int(prompt_message["id"]), "🎭", user_id=USER_ID),
    )
    await asyncio.sleep(0.2)
    assert len(sora.fake.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")) == 1

    stranger = await reply_to(
        sora, payloads.component_click(button["custom_id"], prompt_message, user_id=OTHER_USER_ID)
    )
    assert "for the person who reacted" in stranger.json["data"]["content"]

    modal = await reply_to(sora, payloads.component_click(button["custom_id"], prompt_message))
    assert modal.json["type"] == MODAL
    custom_id, values = modal_values(modal.json, start="1", end="3")
    sora.feed(payloads.modal_submit(custom_id, values, message=prompt_message))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert "dance.mp4" in str(card.json)
    assert len([r for r in simulator.requests if r[1] == "/v1/videos/generations"]) == 1


async def test_messages_without_video_get_no_reaction(sora: Running):
    sora.dispatch("GUILD_CREATE", payloads.guild())
    await reply_to(sora, auto_react(True))
    sora.fake.clear()
    text = payloads.message(content="hello", author=payloads.user(OTHER_USER_ID, "x"))
    sora.dispatch("MESSAGE_CREATE", text)
    bot_post = payloads.message(content="https://example.com/a.mp4", author=payloads.bot_author())
    sora.dispatch("MESSAGE_CREATE", bot_post)
    await sora.settle()
    assert not sora.fake.calls_to("PUT", REACTION)


async def test_only_links_to_videos_get_the_reaction(sora: Running):
    sora.dispatch("GUILD_CREATE", payloads.guild())
    await reply_to(sora, auto_react(True))
    sora.fake.clear()
    cog: Any = sora.bot.get_cog("AutoReactCog")
    links = {
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ": True,
        "look <https://www.tiktok.com/@someone/video/7106594312292453675>": True,
        "https://host.example/media/clip.mp4": True,
        "https://docs.google.com/document/d/1AbCdEfGhIjKlMnOp/edit": False,
        "read https://example.com/blog/a-post": False,
    }
    posted = {}
    for content in links:
        message = payloads.message(content=content, author=payloads.user(OTHER_USER_ID, "x"))
        posted[content] = message["id"]
        sora.dispatch("MESSAGE_CREATE", message)
    deadline = asyncio.get_running_loop().time() + 30
    while cog.messages_checked < len(links):
        assert asyncio.get_running_loop().time() < deadline, "messages not checked"
        await asyncio.sleep(0.02)
    reacted = {c.path.split("/")[4] for c in sora.fake.calls_to("PUT", REACTION)}
    assert {c for c in links if posted[c] in reacted} == {c for c, ok in links.items() if ok}


async def test_the_range_form_defers_before_reading_the_message(
    sora: Running, media_server, short_video
):
    video = payloads.message(
        content=f"{media_server}/{short_video.name}", author=payloads.user(OTHER_USER_ID, "x")
    )
    sora.fake.add_message(video)
    button = f"sora:react:{CHANNEL_ID}:{video['id']}:{USER_ID}"
    prompt = sora.fake.add_message(
        payloads.message(
            author=payloads.bot_author(),
            components=[
                {
                    "type": 1,
                    "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": button}],
                }
            ],
        )
    )
    modal = await reply_to(sora, payloads.component_click(button, prompt))
    custom_id, values = modal_values(modal.json, start="1", end="3")
    read = sora.fake.hold_next("GET", rf"/channels/{CHANNEL_ID}/messages/{video['id']}")
    sora.fake.clear()
    sora.feed(payloads.modal_submit(custom_id, values, message=prompt))
    await read.arrived.wait()
    assert read.call is not None
    answered_first = [c for c in sora.fake.calls[: sora.fake.calls.index(read.call)]]
    read.release()
    assert [c.json for c in answered_first if re.fullmatch(CALLBACK, c.path)] == [{"type": 5}]
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)


async def test_a_bad_range_in_the_form_is_answered_at_once_and_privately(sora: Running):
    video = payloads.message(content="https://host.example/clip.mp4")
    sora.fake.add_message(video)
    spec_button = f"sora:react:{CHANNEL_ID}:{video['id']}:{USER_ID}"
    prompt = sora.fake.add_message(
        payloads.message(
            author=payloads.bot_author(),
            components=[
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 1, "label": "Go", "custom_id": spec_button}
                    ],
                }
            ],
        )
    )
    modal = await reply_to(sora, payloads.component_click(spec_button, prompt))
    custom_id, values = modal_values(modal.json, start="1", end="9")
    answer = await reply_to(sora, payloads.modal_submit(custom_id, values, message=prompt))
    assert answer.json["data"]["flags"] == 64 and "3" in answer.json["data"]["content"]
    assert not sora.fake.calls_to("GET", rf"/channels/{CHANNEL_ID}/messages/{video['id']}")
