"""`/character list`, guild isolation and command sync."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from bot.domain.records import NewCharacter, NewJob, SourceKind
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.fakes import GUILD_ID, OTHER_GUILD_ID, OTHER_USER_ID, USER_ID, payloads
from tests.fakes.seen import buttons, gallery_images, is_v2, shown_text

CALLBACK = r"/interactions/\d+/[^/]+/callback"


async def seed(
    running: Running, guild_id: int, count: int, creator: int = USER_ID, name: str = "Hero"
) -> None:
    """`count` stored characters named "<name> 00".. in one completed job of `creator`."""
    jobs = running.core.jobs
    job = await jobs.create(
        NewJob(
            guild_id=guild_id,
            source_kind=SourceKind.URL,
            source_ref="https://example.com/a.mp4",
            range_start=1,
            range_end=3,
            model="sora-2",
            requester_id=creator,
        )
    )
    await jobs.complete(
        job.id,
        [
            NewCharacter(
                guild_id=guild_id,
                character_id=f"ch_{guild_id}_{i}" if name == "Hero" else f"ch_{name}_{i}",
                task_id="task_X",
                display_name=f"{name} {i:02d}",
                username=f"user.{name.lower()}_{i:02d}",
                job_id=job.id,
                creator_id=creator,
            )
            for i in range(count)
        ],
    )


def listing(options: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return payloads.slash_command("list", options, group="character", **kwargs)


async def test_list_is_a_v2_message_paged_newest_first_with_buttons(sora: Running):
    await seed(sora, GUILD_ID, 12)
    asked = listing()
    sora.feed(asked)
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict) and call.json["type"] == 4
    assert is_v2(call) and call.json["data"]["flags"] & 64  # V2, and only the asker sees it
    newest = [c.display_name for c in await sora.core.characters.list_for_guild(GUILD_ID, limit=12)]
    text = shown_text(call)
    assert "Characters of" in text and "Page 1 of 2" in text and "12 character(s)" in text
    assert text.count("**Hero") == 10 and all(f"**{name}**" in text for name in newest[:10])
    assert f"<@{USER_ID}>" in text and "`@user.hero_" in text
    [container] = call.json["data"]["components"]
    assert container["type"] == 17  # one container: lines, sheet, footer and buttons
    assert container["components"][-2]["content"].startswith("-# Page 1 of 2")
    assert gallery_images(call) == [] and call.files == []  # no avatars: no gallery

    previous, following = buttons(call)
    assert [previous["label"], following["label"]] == ["Previous", "Next"]
    assert previous.get("disabled") is True and not following.get("disabled")

    clicked = payloads.component_click(following["custom_id"], _reply(sora, asked))
    sora.fake.clear()
    sora.feed(clicked)
    page_two = await sora.wait_call("POST", CALLBACK)
    assert isinstance(page_two.json, dict) and page_two.json["type"] == 7  # edited in place
    text = shown_text(page_two)
    assert is_v2(page_two) and "Page 2 of 2" in text
    assert text.count("**Hero") == 2 and all(f"**{name}**" in text for name in newest[10:])
    previous, following = buttons(page_two)
    assert not previous.get("disabled") and following.get("disabled") is True
    assert shown_text(_reply(sora, asked)) == text  # the message itself shows page two


async def test_only_the_asker_can_page(sora: Running):
    await seed(sora, GUILD_ID, 12)
    asked = listing()
    sora.feed(asked)
    call = await sora.wait_call("POST", CALLBACK)
    custom_id = buttons(call)[1]["custom_id"]
    sora.fake.clear()
    sora.feed(payloads.component_click(custom_id, _reply(sora, asked), user_id=OTHER_USER_ID))
    answer = await sora.wait_call("POST", CALLBACK)
    assert isinstance(answer.json, dict) and answer.json["type"] == 4
    assert "yourself" in shown_text(answer)
    assert "Page 1 of 2" in shown_text(_reply(sora, asked))  # the list did not move


async def test_servers_never_see_each_others_characters(sora: Running):
    await seed(sora, GUILD_ID, 3)
    sora.feed(listing(guild_id=OTHER_GUILD_ID))
    call = await sora.wait_call("POST", CALLBACK)
    text = shown_text(call)
    assert is_v2(call) and "No characters yet" in text and "Hero" not in text
    assert "Page 1 of 1" in text and "0 character(s)" in text
    assert gallery_images(call) == [] and call.files == []  # no faces, no gallery
    assert all(b.get("disabled") is True for b in buttons(call))


async def test_a_german_member_pages_the_list_in_german(sora: Running):
    await seed(sora, GUILD_ID, 12)
    asked = listing(locale="de")
    sora.feed(asked)
    call = await sora.wait_call("POST", CALLBACK)
    text = shown_text(call)
    assert "### Charaktere von " in text and f"von <@{USER_ID}>, <t:" in text
    assert "-# Seite 1 von 2 · 12 Charakter(e), neueste zuerst" in text
    assert [b["label"] for b in buttons(call)] == ["Zurück", "Weiter"]
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(call)[1]["custom_id"], _reply(sora, asked)))
    page_two = await sora.wait_call("POST", CALLBACK)
    assert "-# Seite 2 von 2 · 12 Charakter(e), neueste zuerst" in shown_text(page_two)
    assert [b["label"] for b in buttons(page_two)] == ["Zurück", "Weiter"]


async def test_list_in_dms_says_use_a_server(sora: Running):
    sora.feed(listing(dm=True))
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict) and "in a server" in call.json["data"]["content"]


async def test_commands_sync_only_when_they_changed(tmp_path, fake_discord, simulator):
    settings = bot_settings(tmp_path, fake_discord, simulator)
    first = await start_bot(settings, fake_discord)
    await first.bot.close()
    assert fake_discord.sync_count == 1
    synced = {c["name"]: c for c in fake_discord.commands[None]}
    assert synced["Create Sora character"]["type"] == 3  # the message context menu
    group = synced["character"]
    assert {o["name"] for o in group["options"]} >= {"create", "list", "show", "rename", "delete"}
    for command in group["options"]:
        assert all(o["description"] for o in command.get("options", [])), command["name"]
    create = next(o for o in group["options"] if o["name"] == "create")
    names = [o["name"] for o in create["options"]]
    assert set(names) == {"start", "end", "video", "url", "from_task", "model", "name"}
    assert all(o["description"] for o in create["options"])

    second = await start_bot(settings, fake_discord)  # restart: same commands, no sync
    await second.bot.close()
    assert fake_discord.sync_count == 1

    dev = bot_settings(tmp_path, fake_discord, simulator, dev_guild_id=GUILD_ID)
    third = await start_bot(dev, fake_discord)  # another scope: sync again
    await third.bot.close()
    assert fake_discord.sync_count == 2 and fake_discord.commands[GUILD_ID]


def _reply(running: Running, interaction: dict[str, Any]) -> dict[str, Any]:
    """The message the bot answered `interaction` with, as the fake stores it."""
    message_id = running.fake.store.thread(interaction["token"]).original_id
    assert message_id is not None
    message = running.fake.message(message_id)
    assert message is not None
    return message


async def test_list_filters_mine_and_by_creator(sora: Running):
    await seed(sora, GUILD_ID, 2, creator=USER_ID)
    await seed(sora, GUILD_ID, 1, creator=OTHER_USER_ID, name="Theirs")

    mine = await sora_list(sora, listing(options={"mine": True}))
    assert "2 character(s)" in mine and "Theirs" not in mine
    theirs = await sora_list(
        sora,
        listing(
            options={"creator": {"type": 6, "value": str(OTHER_USER_ID)}},
            resolved={"users": {str(OTHER_USER_ID): payloads.user(OTHER_USER_ID, "them")}},
        ),
    )
    assert "1 character(s)" in theirs and "Theirs" in theirs


async def sora_list(sora: Running, payload: dict[str, Any]) -> str:
    """The text of the list `payload` asks for."""
    sora.fake.clear()
    sora.feed(payload)
    return shown_text(await sora.wait_call("POST", CALLBACK))


def _sheet_of(call: Any) -> Any:
    """The contact sheet a list answer carries, opened: its gallery shows the file attached
    to the same message."""
    assert is_v2(call) and gallery_images(call) == ["attachment://characters.png"]
    [(_, filename, data)] = call.files
    assert filename == "characters.png"
    return Image.open(io.BytesIO(data)).convert("RGB")


async def test_the_list_shows_the_page_faces_as_a_contact_sheet(sora: Running):
    await seed(sora, GUILD_ID, 11)
    listed = await sora.core.characters.list_for_guild(GUILD_ID, limit=11)
    for character, colour in ((listed[0], (220, 20, 20)), (listed[10], (20, 200, 20))):
        face = io.BytesIO()
        Image.new("RGB", (300, 200), colour).save(face, format="JPEG")
        await sora.core.database.execute(
            "UPDATE characters SET avatar = ?, avatar_mime = 'image/jpeg' WHERE id = ?",
            (face.getvalue(), character.id),
        )
    asked = listing()
    sora.feed(asked)
    answer = await sora.wait_call("POST", CALLBACK)
    first = _sheet_of(answer)
    assert first.size == (5 * 128 + 6 * 8, 2 * (128 + 22) + 3 * 8)  # ten faces, five a row
    r, g, b = first.getpixel((8 + 64, 8 + 64))  # the newest character's face, first
    assert r > 180 and g < 80 and b < 80
    r, g, b = first.getpixel((8 + 128 + 8 + 64, 8 + 64))  # a character without a readable one
    assert (r, g, b) != (220, 20, 20)
    shown = _reply(sora, asked)
    assert [a["filename"] for a in shown["attachments"]] == ["characters.png"]

    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(answer)[1]["custom_id"], shown))
    page_two = await sora.wait_call("POST", CALLBACK)
    second = _sheet_of(page_two)
    assert second.size == (128 + 2 * 8, 128 + 22 + 2 * 8)  # the one face of page two
    r, g, b = second.getpixel((8 + 64, 8 + 64))  # the oldest character's, green
    assert r < 80 and g > 150 and b < 80
    shown = _reply(sora, asked)  # the new page's sheet replaced the old one
    assert [a["filename"] for a in shown["attachments"]] == ["characters.png"]
    assert gallery_images(shown) == ["attachment://characters.png"]


async def test_a_page_without_faces_drops_the_last_pages_sheet(sora: Running):
    await seed(sora, GUILD_ID, 11)
    [newest] = await sora.core.characters.list_for_guild(GUILD_ID, limit=1)
    face = io.BytesIO()
    Image.new("RGB", (64, 64), (220, 20, 20)).save(face, format="JPEG")
    await sora.core.database.execute(
        "UPDATE characters SET avatar = ?, avatar_mime = 'image/jpeg' WHERE id = ?",
        (face.getvalue(), newest.id),
    )
    asked = listing()
    sora.feed(asked)
    first = await sora.wait_call("POST", CALLBACK)
    _sheet_of(first)
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(first)[1]["custom_id"], _reply(sora, asked)))
    page_two = await sora.wait_call("POST", CALLBACK)
    assert gallery_images(page_two) == [] and page_two.files == []
    shown = _reply(sora, asked)
    assert shown["attachments"] == [] and gallery_images(shown) == []
    assert "Page 2 of 2" in shown_text(shown)
