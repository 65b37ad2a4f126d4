"""Job messages and cards in Components V2, and what was posted before V2 keeps working."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_character_list import seed
from tests.cogs.test_library import MODAL, modal_values, reply_to
from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, payloads
from tests.fakes.components_v2 import MAX_COMPONENTS, walk
from tests.fakes.seen import buttons, is_v2, shown_fields, shown_text, shown_title, thumbnails

GREEN = 0x2ECC71


def message_of(running: Running, call: Any) -> dict[str, Any]:
    """The stored message a call to `.../messages/<id>` changed."""
    message = running.fake.message(int(call.path.rsplit("/", 1)[1]))
    assert message is not None
    return message


async def test_the_card_is_a_v2_container_with_the_avatar_beside_the_name(
    sora: Running, media_server, short_video
):
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    card = message_of(sora, await sora.wait_call("PATCH", EDIT_REPLY, is_card))
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)

    assert is_v2(card) and card["content"] == "" and card["embeds"] == []
    mention, container = card["components"]
    assert mention["type"] == 10 and mention["content"] == f"<@{USER_ID}>"
    assert container["type"] == 17 and container["accent_color"] == GREEN
    section = container["components"][0]
    assert section["type"] == 9 and section["accessory"]["type"] == 11
    assert thumbnails(card) == ["attachment://avatar.jpg"]
    assert [a["filename"] for a in card["attachments"]] == ["avatar.jpg"]
    beside = section["components"][0]["content"]
    assert beside.startswith(f"### {character.display_name}\n")
    assert f"`@{character.username}`" in beside
    labels = [
        b["label"] for row in container["components"] if row["type"] == 1 for b in row["components"]
    ]
    assert labels == [b["label"] for b in buttons(card)]  # every button is in the container
    assert labels == ["Use in a video", "Rename", "Delete", "Create from same video"]
    info = shown_fields(card)
    assert info["Requested by"] == f"<@{USER_ID}>" and media_server in info["Source"]
    assert sum(1 for _ in walk(card["components"])) <= MAX_COMPONENTS


async def test_a_card_posted_before_v2_keeps_its_buttons_and_its_form(sora: Running):
    await seed(sora, GUILD_ID, 1)
    character_id = f"ch_{GUILD_ID}_0"
    row = {
        "type": 1,
        "components": [
            {"type": 2, "style": 2, "label": "Rename", "custom_id": f"sora:rename:{character_id}"}
        ],
    }
    old = payloads.message(
        author=payloads.bot_author(),
        embeds=[{"title": "Hero 00", "fields": [{"name": "Character id", "value": "x"}]}],
        components=[row],
    )
    sora.fake.add_message(old)

    call = await reply_to(sora, payloads.component_click(f"sora:rename:{character_id}", old))
    assert call.json["type"] == MODAL
    custom_id, values = modal_values(call.json, **{"new name": "Old Hero"})
    answer = await reply_to(sora, payloads.modal_submit(custom_id, values, message=old))
    assert answer.json["type"] == 7 and shown_title(answer) == "Old Hero"
    kept = sora.fake.message(int(old["id"]))
    assert kept is not None and not is_v2(kept) and kept["embeds"][0]["title"] == "Old Hero"
    assert [b["label"] for b in buttons(kept)][:3] == ["Use in a video", "Rename", "Delete"]


async def test_a_job_shown_as_an_embed_before_the_upgrade_finishes_in_v2(
    tmp_path, fake_discord, simulator, media_server, short_video
):
    settings = bot_settings(tmp_path, fake_discord, simulator)
    simulator.scenario.update(hang=True)
    first = await start_bot(settings, fake_discord)
    first.feed(create(url=f"{media_server}/{short_video.name}"))
    progress = await first.wait_call("PATCH", EDIT_REPLY, lambda c: "Extracting" in shown_text(c))
    assert is_v2(progress)  # progress itself is V2 now
    await first.bot.close()
    reply = message_of(first, progress)
    reply.update(  # what the old code showed: the same progress as an embed
        flags=0,
        components=[],
        embeds=[{"title": "Creating a character", "description": "Extracting the character."}],
    )

    simulator.scenario.update(hang=False)
    second = await start_bot(settings, fake_discord)
    try:
        path = rf"/channels/{CHANNEL_ID}/messages/{reply['id']}"
        card = await second.wait_call("PATCH", path, is_card, within=30)
        assert isinstance(card.json, dict)
        assert card.json["content"] is None and card.json["embeds"] == []
        shown = second.fake.message(int(reply["id"]))
        assert shown is not None and is_v2(shown) and shown["embeds"] == []
        assert "Character id" in shown_fields(shown) and "Extracting" not in shown_text(shown)
    finally:
        await second.bot.close()


async def test_deleting_from_a_v2_card_says_so_on_the_card_without_buttons(sora: Running):
    await seed(sora, GUILD_ID, 1)
    shown = payloads.slash_command("show", {"name": f"ch_{GUILD_ID}_0"}, group="character")
    await reply_to(sora, shown)
    card_id = sora.fake.store.thread(shown["token"]).original_id
    card = sora.fake.message(card_id or 0)
    assert card is not None and is_v2(card)
    delete = {b["label"]: b["custom_id"] for b in buttons(card)}["Delete"]
    asked = payloads.component_click(delete, card)
    await reply_to(sora, asked)
    confirm = sora.fake.message(sora.fake.store.thread(asked["token"]).original_id or 0)
    assert confirm is not None
    await reply_to(sora, payloads.component_click(buttons(confirm)[0]["custom_id"], confirm))

    await sora.wait_call("PATCH", rf"/channels/{CHANNEL_ID}/messages/{card_id}")
    after = sora.fake.message(card_id or 0)
    assert after is not None and is_v2(after) and buttons(after) == []
    assert shown_text(after).startswith("*This character was deleted from the library.*")
    assert shown_title(after) == "Hero 00"
