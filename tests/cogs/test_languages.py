"""Languages through the fake Discord: the synced command tree carries descriptions in
the five languages (names stay English), and a member is answered, and their job's
messages written, in their client's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import i18n
from cogs.shared.i18n import CommandTranslator
from tests.cogs.conftest import Running
from tests.fakes import FakeDiscord, payloads

CALLBACK = r"/interactions/\d+/[^/]+/callback"
EPHEMERAL = 64


def synced(fake: FakeDiscord, name: str) -> dict[str, Any]:
    """The global command `name` as the bot last synced it."""
    for command in fake.commands.get(None, []):
        if command["name"] == name:
            return dict(command)
    raise AssertionError(f"/{name} was not synced")


def walk(command: dict[str, Any]) -> list[dict[str, Any]]:
    """The command, its subcommands and their options, depth first."""
    found = [command]
    for option in command.get("options") or []:
        found.extend(walk(option))
    return found


# Discord's locales the catalogues serve (es-419 reads es-ES).
LANGUAGES = {"de", "es-ES", "es-419", "fr", "pt-BR", "ja"}


async def answer(sora: Running, payload: dict[str, Any]) -> dict[str, Any]:
    sora.fake.clear()
    sora.feed(payload)
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict) and call.json["type"] == 4, call.json
    return dict(call.json["data"])


async def test_synced_descriptions_are_german_and_names_stay_english(sora: Running) -> None:
    assert isinstance(sora.bot.tree.translator, CommandTranslator)
    help_command = synced(sora.fake, "help")
    assert help_command["description"] == "What this bot does and how to use it"
    localized = help_command["description_localizations"]
    assert set(localized) == LANGUAGES
    assert localized["de"] == "Was dieser Bot macht und wie du ihn nutzt"
    assert localized["es-419"] == localized["es-ES"] != help_command["description"]
    assert all(localized[code] != help_command["description"] for code in LANGUAGES)
    character = synced(sora.fake, "character")
    every = walk(character)
    create = next(o for o in every if o["name"] == "create")
    start = next(o for o in create["options"] if o["name"] == "start")
    assert start["description_localizations"]["de"].startswith("Wo der Moment beginnt")
    for item in every:
        assert not item.get("name_localizations"), item["name"]
        if "description" in item:
            assert set(item["description_localizations"]) == LANGUAGES, item["name"]
    model = next(o for o in create["options"] if o["name"] == "model")
    pro = next(c for c in model["choices"] if c["value"] == "sora-2-pro")
    assert pro["name_localizations"]["de"] == "sora-2-pro (höhere Qualität)"
    settings = synced(sora.fake, "settings")
    channels = next(o for o in walk(settings) if o["name"] == "channels")
    action = next(o for o in channels["options"] if o["name"] == "action")
    everywhere = next(c for c in action["choices"] if c["value"] == "everywhere")
    assert everywhere["name"] == "everywhere"
    assert everywhere["name_localizations"]["de"] == "überall"
    assert set(everywhere["name_localizations"]) == LANGUAGES


async def test_the_translator_answers_every_catalogue_language_and_es_419() -> None:
    """Each of the five catalogues is asked (empty ones give no localization yet)."""
    import discord
    from discord import app_commands

    translator = CommandTranslator()
    await translator.load()
    text = app_commands.locale_str("Saved.")
    context: Any = app_commands.TranslationContext  # its data is not read here
    description = context(app_commands.TranslationContextLocation.other, None)
    name = context(app_commands.TranslationContextLocation.command_name, None)
    for locale in discord.Locale:
        expected = i18n.lookup(locale.value, "Saved.")
        assert await translator.translate(text, locale, description) == expected
        assert await translator.translate(text, locale, name) is None
    assert await translator.translate(text, discord.Locale.german, description) == "Gespeichert."


async def test_a_german_member_reads_help_in_german(sora: Running) -> None:
    data = await answer(sora, payloads.slash_command("help", locale="de"))
    assert data["flags"] == EPHEMERAL
    embed = data["embeds"][0]
    assert embed["title"] == "Sora Character Bot"
    assert embed["description"].startswith("Macht aus 1 bis 3 Sekunden eines Videos")
    names = [f["name"] for f in embed["fields"]]
    assert names[:3] == ["Erstellen", "In einem Video verwenden", "Ansehen und verwalten"]
    data_field = next(f["value"] for f in embed["fields"] if f["name"] == "Deine Daten")
    assert "nach 30 Tagen gelöscht" in data_field  # the placeholder filled after the lookup


async def test_an_english_member_reads_help_in_english(sora: Running) -> None:
    data = await answer(sora, payloads.slash_command("help", locale="en-US"))
    embed = data["embeds"][0]
    assert embed["description"].startswith("Turns 1 to 3 seconds of a video")
    assert [f["name"] for f in embed["fields"]][:2] == ["Create", "Use in a video"]


async def test_a_half_range_is_refused_in_the_members_language(sora: Running, simulator) -> None:
    half = {"url": "https://example.org/v.mp4", "start": "1"}
    german = await answer(
        sora, payloads.slash_command("create", half, group="character", locale="de")
    )
    assert german["flags"] == EPHEMERAL
    assert german["content"] == (
        "Gib `start` und `end` beide an oder keins von beiden: Dann schlage ich den besten "
        "Moment des Videos vor."
    )
    english = await answer(
        sora, payloads.slash_command("create", half, group="character", locale="en-GB")
    )
    assert english["content"].startswith("Give both `start` and `end`, or neither")
    # Latin American Spanish reads the es-ES catalogue.
    spanish = await answer(
        sora, payloads.slash_command("create", half, group="character", locale="es-419")
    )
    assert "`start`" in spanish["content"]
    assert spanish["content"] != english["content"]
    spain = await answer(
        sora, payloads.slash_command("create", half, group="character", locale="es-ES")
    )
    assert spanish["content"] == spain["content"]
    japanese = await answer(
        sora, payloads.slash_command("create", half, group="character", locale="ja")
    )
    assert "`start`" in japanese["content"] and japanese["content"] != english["content"]
    assert simulator.requests == []


async def test_an_unasked_message_follows_the_servers_language(sora: Running, short_video) -> None:
    """The reply to a 🎭 reaction speaks the server's language; the form it opens, the
    language of the member who clicks."""
    from tests.cogs.test_auto_react import REACTION, auto_react
    from tests.cogs.test_library import MODAL, reply_to
    from tests.fakes import CHANNEL_ID, OTHER_USER_ID, USER_ID

    sora.fake.add_media("tanz.mp4", short_video)
    video_message = payloads.message(
        content="",
        attachments=[sora.fake.media_attachment("tanz.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(video_message)
    german_server = payloads.guild()
    german_server["preferred_locale"] = "de"
    sora.dispatch("GUILD_CREATE", german_server)
    on = await reply_to(sora, auto_react(True, locale="en-US", guild_locale="de"))
    assert "**on**" in on.json["data"]["content"]  # the one who asked reads English
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
    assert prompt.json["content"] == f"<@{USER_ID}> mach aus diesem Video einen Sora-Charakter:"
    button = prompt.json["components"][0]["components"][0]
    assert button["label"] == "Charakter erstellen"
    prompt_message = sora.fake.messages_in(CHANNEL_ID)[-1]
    click = payloads.component_click(button["custom_id"], prompt_message, locale="de")
    modal = await reply_to(sora, click)
    assert modal.json["type"] == MODAL
    assert modal.json["data"]["title"] == "Einen Sora-Charakter erstellen"
    fields = [row["components"][0] for row in modal.json["data"]["components"]]
    assert [(f["label"], f["required"], f["max_length"]) for f in fields] == [
        ("Start (Sekunden oder m:ss)", False, 20),
        ("Ende (1 bis 3 s nach dem Start)", False, 20),
        ("Modell: sora-2, sora-2-pro oder sora-2-vip", True, 20),
    ]
    assert fields[0]["placeholder"].startswith("z. B. 1.5 oder 0:12")
    english = payloads.component_click(button["custom_id"], prompt_message, locale="en-US")
    modal = await reply_to(sora, english)
    assert modal.json["data"]["title"] == "Create a Sora character"


async def test_the_owners_block_is_told_in_the_members_language(
    tmp_path: Path, fake_discord: FakeDiscord, simulator: Any, media_server: str, short_video
) -> None:
    """A fixed refusal built in the core (the server blocked) reaches a German member in
    German; the owner's own reply follows the owner's language."""
    from tests.cogs.conftest import bot_settings, start_bot
    from tests.cogs.test_library import reply_to
    from tests.fakes import GUILD_ID, USER_ID

    settings = bot_settings(tmp_path, fake_discord, simulator, owner_ids=f"{USER_ID}")
    sora = await start_bot(settings, fake_discord)
    try:
        block = payloads.slash_command(
            "block", {"server_id": str(GUILD_ID)}, group="owner", user_id=USER_ID, locale="de"
        )
        done = await reply_to(sora, block)
        assert done.json["data"]["content"] == f"Server `{GUILD_ID}` gesperrt."
        url = f"{media_server}/{short_video.name}"
        create = {"url": url, "start": "1", "end": "3"}
        german = await answer(
            sora, payloads.slash_command("create", create, group="character", locale="de")
        )
        off = "Der Bot-Besitzer hat diesen Bot für diesen Server abgeschaltet."
        assert german["content"] == off
        assert german["flags"] == EPHEMERAL
    finally:
        await sora.bot.close()
    assert simulator.requests == []


async def test_a_suggestion_without_a_video_is_refused_in_german(sora: Running, simulator) -> None:
    """No range and only a task id: nothing to look at, said in the member's language."""
    only_task = {"from_task": "task_0123456789"}
    german = await answer(
        sora, payloads.slash_command("create", only_task, group="character", locale="de")
    )
    assert german["flags"] == EPHEMERAL
    assert german["content"] == (
        "Gib mit `from_task` `start` und `end` an: Es gibt kein Video zum Ansehen."
    )
    assert simulator.requests == []


async def test_the_jobs_list_and_settings_read_german(sora: Running) -> None:
    jobs = await answer(sora, payloads.slash_command("jobs", group="character", locale="de"))
    embed = jobs["embeds"][0]
    assert embed["title"] == "Deine laufenden Aufträge"
    assert embed["description"] == "Keine laufenden Aufträge. Starte einen mit `/character create`."
    shown = await answer(sora, payloads.slash_command("show", group="settings", locale="de"))
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert shown["embeds"][0]["title"] == "Servereinstellungen"
    assert fields["Auto-Reaktion"] == "aus"
    assert fields["Kanäle"] == "jeder Kanal"
    assert fields["Standardmodell"] == "sora-2"


async def test_a_german_member_follows_the_job_and_reads_the_card_in_german(
    sora: Running, media_server, short_video
) -> None:
    """The progress, the card and its buttons speak the asker's language (kept with the
    job: the card comes long after the interaction)."""
    from tests.cogs.test_character_create import EDIT_REPLY
    from tests.fakes.seen import buttons, shown_fields, shown_text

    def de(msgid: str) -> str:
        german = i18n.translate("de", msgid)
        assert german != msgid, msgid  # the catalogue translates it
        return german

    options = {"url": f"{media_server}/{short_video.name}", "start": "1", "end": "3"}
    sora.feed(payloads.slash_command("create", options, group="character", locale="de"))
    card = await sora.wait_call(
        "PATCH", EDIT_REPLY, lambda call: de("Character id") in shown_fields(call)
    )
    fields = shown_fields(card)
    assert {de("Requested by"), de("Source"), de("Time taken"), de("Task id")} <= set(fields)
    assert "Requested by" not in fields and "Character id" not in fields
    assert [b["label"] for b in buttons(card)][:3] == [
        de("Use in a video"),
        de("Rename"),
        de("Delete"),
    ]
    progress = [
        shown_text(c)
        for c in sora.fake.calls
        if c.method == "PATCH" and c is not card and shown_fields(c) and c.json is not None
    ]
    assert progress and all(de("Range") in text for text in progress)
    assert not any("Creating a character" in text for text in progress)
