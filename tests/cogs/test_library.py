"""Everyday use: show with autocomplete, rename, delete, the context menu with its modal,
card buttons (also after a restart) and "Create from same video"."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_character_list import seed
from tests.fakes import GUILD_ID, OTHER_GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import buttons, is_v2, shown_text, shown_title

CALLBACK = r"/interactions/\d+/[^/]+/callback"
MODAL = 9
NO_PERMISSIONS = "0"


def modal_values(callback_json: dict[str, Any], **by_label: str) -> tuple[str, dict[str, str]]:
    """The modal's custom_id and {input custom_id: value}, picking inputs by label prefix."""
    data = callback_json["data"]
    values: dict[str, str] = {}
    for row in data["components"]:
        for component in row.get("components", [row.get("component", {})]):
            label = component.get("label", "")
            for prefix, value in by_label.items():
                if label.lower().startswith(prefix):
                    values[component["custom_id"]] = value
            values.setdefault(component["custom_id"], component.get("value", ""))
    return data["custom_id"], values


async def reply_to(running: Running, payload: dict[str, Any]) -> Any:
    running.fake.clear()
    running.feed(payload)
    return await running.wait_call("POST", CALLBACK)


async def test_autocomplete_offers_prefix_matches_first(sora: Running):
    await seed(sora, GUILD_ID, 3)
    await seed(sora, OTHER_GUILD_ID, 3)
    call = await reply_to(
        sora, payloads.autocomplete("show", {"name": "hero 0"}, "name", group="character")
    )
    assert call.json["type"] == 8
    choices = call.json["data"]["choices"]
    assert [c["name"].split(" (")[0] for c in choices] == ["Hero 00", "Hero 01", "Hero 02"]
    assert all(c["value"].startswith(f"ch_{GUILD_ID}_") for c in choices)


async def test_show_posts_the_card_with_buttons(sora: Running):
    await seed(sora, GUILD_ID, 2)
    call = await reply_to(
        sora, payloads.slash_command("show", {"name": f"ch_{GUILD_ID}_1"}, group="character")
    )
    data = call.json["data"]
    assert call.json["type"] == 4 and is_v2(call) and not data.get("flags", 0) & 64
    assert shown_title(call) == "Hero 01"
    labels = [b["label"] for b in buttons(call)]
    assert labels == ["Use in a video", "Rename", "Delete", "Create from same video"]


async def test_show_by_typed_name_and_unknown_name(sora: Running):
    await seed(sora, GUILD_ID, 2)
    call = await reply_to(
        sora, payloads.slash_command("show", {"name": "hero 01"}, group="character")
    )
    assert shown_title(call) == "Hero 01"
    call = await reply_to(
        sora, payloads.slash_command("show", {"name": "nobody"}, group="character")
    )
    assert call.json["data"]["flags"] == 64 and "No character" in call.json["data"]["content"]


async def test_rename_is_local_and_needs_the_creator_or_manage_server(sora: Running):
    await seed(sora, GUILD_ID, 1, creator=USER_ID)
    cid = f"ch_{GUILD_ID}_0"
    denied = await reply_to(
        sora,
        payloads.slash_command(
            "rename",
            {"name": cid, "new_name": "Villain"},
            group="character",
            user_id=OTHER_USER_ID,
            permissions=NO_PERMISSIONS,
        ),
    )
    assert "Only the person who created" in denied.json["data"]["content"]
    assert (await sora.core.characters.get(GUILD_ID, cid)).display_name == "Hero 00"

    done = await reply_to(
        sora,
        payloads.slash_command(
            "rename", {"name": cid, "new_name": "  @everyone   **Boss**  "}, group="character"
        ),
    )
    content = done.json["data"]["content"]
    assert done.json["data"]["flags"] == 64
    assert "keeps working in Sora prompts" in content and "toapis has no rename" in content
    assert done.json["data"]["allowed_mentions"]["parse"] == []
    assert (await sora.core.characters.get(GUILD_ID, cid)).display_name == "@everyone **Boss**"

    too_long = await reply_to(
        sora,
        payloads.slash_command("rename", {"name": cid, "new_name": "x" * 150}, group="character"),
    )
    assert "at most 80" in too_long.json["data"]["content"]


async def test_delete_asks_first_and_then_deletes(sora: Running):
    await seed(sora, GUILD_ID, 1)
    cid = f"ch_{GUILD_ID}_0"
    asked = payloads.slash_command("delete", {"name": cid}, group="character")
    call = await reply_to(sora, asked)
    data = call.json["data"]
    assert data["flags"] == 64 and "keeps working in Sora prompts" in data["content"]
    confirm = data["components"][0]["components"][0]
    assert confirm["label"] == "Delete"
    message_id = sora.fake.store.thread(asked["token"]).original_id
    assert message_id is not None
    message = sora.fake.message(message_id)
    assert message is not None
    answer = await reply_to(sora, payloads.component_click(confirm["custom_id"], message))
    assert answer.json["type"] == 7 and "Deleted" in answer.json["data"]["content"]
    assert await sora.core.characters.get(GUILD_ID, cid) is None


async def test_context_menu_opens_the_modal_and_creates(sora: Running, simulator, short_video):
    sora.fake.add_media("posted.mp4", short_video)
    posted = payloads.message(
        content="look at this",
        attachments=[sora.fake.media_attachment("posted.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(posted)
    call = await reply_to(sora, payloads.message_command("Create Sora character", posted))
    assert call.json["type"] == MODAL
    custom_id, values = modal_values(call.json, start="1", end="2.5", model="sora-2-vip")
    sora.feed(payloads.modal_submit(custom_id, values))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert "posted.mp4" in str(card.json)
    assert [r[2]["model"] for r in simulator.requests if r[1] == "/v1/videos/generations"] == [
        "sora-2-vip"
    ]


async def test_context_menu_on_a_message_without_video(sora: Running):
    posted = payloads.message(content="just words", author=payloads.user(OTHER_USER_ID, "x"))
    call = await reply_to(sora, payloads.message_command("Create Sora character", posted))
    assert call.json["data"]["flags"] == 64 and "no video" in call.json["data"]["content"]


async def test_modal_with_a_bad_range_answers_ephemerally(sora: Running, simulator):
    posted = payloads.message(
        content="https://example.com/a.mp4", author=payloads.user(OTHER_USER_ID, "x")
    )
    call = await reply_to(sora, payloads.message_command("Create Sora character", posted))
    custom_id, values = modal_values(call.json, start="5", end="1")
    answer = await reply_to(sora, payloads.modal_submit(custom_id, values))
    assert answer.json["data"]["flags"] == 64 and "after" in answer.json["data"]["content"]
    assert simulator.requests == []


async def test_card_buttons_work_after_a_restart(
    tmp_path, fake_discord, simulator, media_server, short_video
):
    settings = bot_settings(tmp_path, fake_discord, simulator)
    first = await start_bot(settings, fake_discord)
    first.feed(create(url=f"{media_server}/{short_video.name}"))
    card_call = await first.wait_call("PATCH", EDIT_REPLY, is_card)
    await first.settle()
    await first.bot.close()

    second = await start_bot(settings, fake_discord)  # buttons must still answer
    try:
        card_id = int(card_call.path.rsplit("/", 1)[1])
        card = fake_discord.message(card_id)
        by_label = {b["label"]: b["custom_id"] for b in buttons(card)}
        call = await reply_to(second, payloads.component_click(by_label["Rename"], card))
        assert call.json["type"] == MODAL
        custom_id, values = modal_values(call.json, **{"new name": "Renamed Hero"})
        answer = await reply_to(second, payloads.modal_submit(custom_id, values, message=card))
        assert answer.json["type"] == 7  # the card itself is updated
        assert shown_title(answer) == "Renamed Hero"

        again = await reply_to(
            second, payloads.component_click(by_label["Create from same video"], card)
        )
        assert again.json["type"] == MODAL
        custom_id, values = modal_values(again.json, start="2", end="4")
        second.feed(payloads.modal_submit(custom_id, values, message=card))
        await second.wait_call("PATCH", EDIT_REPLY, is_card)
        posts = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
        assert posts[-1]["url"] == f"{media_server}/{short_video.name}"
        assert posts[-1]["timestamps"] == "2,4"

        denied = await reply_to(
            second,
            payloads.component_click(
                by_label["Delete"], card, user_id=OTHER_USER_ID, permissions=NO_PERMISSIONS
            ),
        )
        assert "Only the person who created" in denied.json["data"]["content"]
    finally:
        await second.bot.close()


async def test_create_again_from_a_slash_attachment_uses_the_saved_clip(
    sora: Running, simulator, short_video
):
    sora.fake.add_media("phone.mp4", short_video)
    attachment = sora.fake.media_attachment("phone.mp4")
    sora.feed(
        payloads.slash_command(
            "create",
            {"start": "1", "end": "3"},
            group="character",
            attachments={"video": attachment},
        )
    )
    card_call = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    [first] = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
    card = sora.fake.message(int(card_call.path.rsplit("/", 1)[1]))
    assert card is not None
    again = {b["label"]: b["custom_id"] for b in buttons(card)}
    again_id = again["Create from same video"]

    outside = await reply_to(sora, payloads.component_click(again_id, card))
    custom_id, values = modal_values(outside.json, start="4", end="6")
    refused = await reply_to(sora, payloads.modal_submit(custom_id, values, message=card))
    assert "was kept" in refused.json["data"]["content"]

    inside = await reply_to(sora, payloads.component_click(again_id, card))
    custom_id, values = modal_values(inside.json, start="2", end="3.5")
    sora.feed(payloads.modal_submit(custom_id, values, message=card))
    await sora.wait_call("PATCH", EDIT_REPLY, lambda c: is_card(c) and c is not card_call)
    second = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"][-1]
    assert second["url"] == first["url"]  # the uploaded clip, not the expiring CDN link
    assert second["timestamps"] == "2,3.5"


async def twins(running: Running) -> list[str]:
    """Two characters of this server both named "Twin" (and one elsewhere)."""
    await seed(running, GUILD_ID, 2, name="Twin")
    await seed(running, OTHER_GUILD_ID, 1, name="Other")
    ids = ["ch_Twin_0", "ch_Twin_1"]
    for cid in ids:
        await running.core.characters.rename(GUILD_ID, cid, "Twin")
    return ids


def original(running: Running, asked: dict[str, Any]) -> dict[str, Any]:
    """The reply message of the interaction `asked`."""
    message_id = running.fake.store.thread(asked["token"]).original_id
    assert message_id is not None
    message = running.fake.message(message_id)
    assert message is not None
    return message


def chooser(running: Running, asked: dict[str, Any], answer: Any) -> tuple[str, Any, list[str]]:
    """The select menu's custom_id, its message and the offered values."""
    data = answer.json["data"]
    assert data["flags"] == 64
    [select] = data["components"][0]["components"]
    assert select["type"] == 3
    message = original(running, asked)
    return select["custom_id"], message, [o["value"] for o in select["options"]]


async def test_rename_names_the_character_it_renamed(sora: Running):
    await seed(sora, GUILD_ID, 1, creator=USER_ID)
    cid = f"ch_{GUILD_ID}_0"
    done = await reply_to(
        sora,
        payloads.slash_command("rename", {"name": cid, "new_name": "Villain"}, group="character"),
    )
    assert done.json["data"]["content"].startswith(
        "Renamed **Hero 00** (`@user.hero_00`) to **Villain**."
    )


async def test_a_name_shared_by_several_characters_offers_a_choice(sora: Running):
    first, second = await twins(sora)
    asked = payloads.slash_command(
        "rename", {"name": "twin", "new_name": "Solo"}, group="character"
    )
    answer = await reply_to(sora, asked)
    assert "Several characters match **twin**" in answer.json["data"]["content"]
    assert f"<@{USER_ID}>" in answer.json["data"]["content"]  # the creator, not pinged
    assert answer.json["data"]["allowed_mentions"]["parse"] == []
    custom_id, message, offered = chooser(sora, asked, answer)
    assert offered == [first, second]
    for cid in (first, second):  # nothing renamed yet
        assert (await sora.core.characters.get(GUILD_ID, cid)).display_name == "Twin"

    forged = await reply_to(
        sora, payloads.component_click(custom_id, message, component_type=3, values=["ch_Other_0"])
    )
    assert forged.json["data"]["flags"] == 64 and "not one of" in forged.json["data"]["content"]
    assert (await sora.core.characters.get(OTHER_GUILD_ID, "ch_Other_0")).display_name == (
        "Other 00"
    )

    done = await reply_to(
        sora, payloads.component_click(custom_id, message, component_type=3, values=[second])
    )
    assert done.json["data"]["content"].startswith("Renamed **Twin** (`@user.twin_01`) to **Solo**")
    assert (await sora.core.characters.get(GUILD_ID, second)).display_name == "Solo"
    assert (await sora.core.characters.get(GUILD_ID, first)).display_name == "Twin"


async def test_show_and_delete_by_a_shared_name_act_on_the_one_chosen(sora: Running):
    first, second = await twins(sora)
    asked = payloads.slash_command("show", {"name": "Twin"}, group="character")
    custom_id, message, _ = chooser(sora, asked, await reply_to(sora, asked))
    card = await reply_to(
        sora, payloads.component_click(custom_id, message, component_type=3, values=[first])
    )
    assert shown_title(card) == "Twin"
    assert f"`{first}`" in shown_text(card)

    asked = payloads.slash_command("delete", {"name": "@USER.TWIN_01"}, group="character")
    confirm = await reply_to(sora, asked)  # the username is exact: no choice needed
    assert "Delete **Twin** (`@user.twin_01`)" in confirm.json["data"]["content"]
    button = confirm.json["data"]["components"][0]["components"][0]
    message = original(sora, asked)
    done = await reply_to(sora, payloads.component_click(button["custom_id"], message))
    assert "Deleted **Twin**" in done.json["data"]["content"]
    assert await sora.core.characters.get(GUILD_ID, second) is None
    assert await sora.core.characters.get(GUILD_ID, first) is not None
