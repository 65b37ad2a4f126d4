"""Characters that outlive Sora: a create binds the kept likeness to Seedance 2 and Vidu Q3
(through real discord.py, the fake Discord and the simulator's engines)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import pytest_asyncio

from bot.domain.records import BindingState
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.fakes import GUILD_ID, FakeDiscord, payloads
from tests.fakes.seen import buttons as buttons_in
from tests.fakes.seen import shown_fields, shown_text, shown_title
from tests.sample_media import make_timecode_video, timecode_of
from tests.shared_media import made_once

SORA_GONE = "Sora 2: no longer offered by the video service"


@pytest_asyncio.fixture
async def sora(tmp_path: Path, fake_discord: FakeDiscord, simulator: Any) -> AsyncIterator[Running]:
    """The bot with every engine (CHARACTER_ENGINES' default)."""
    settings = bot_settings(
        tmp_path, fake_discord, simulator, character_engines="sora-2,seedance-2,viduq3"
    )
    running = await start_bot(settings, fake_discord)
    try:
        yield running
    finally:
        await running.bot.close()


@pytest.fixture(scope="session")
def timecode_video(media_dir: Path) -> Path:
    """8 s whose frames show their own number (25 fps)."""
    return made_once(
        media_dir / "engines-timecode.mp4", lambda path: make_timecode_video(path, seconds=8)
    )


def engines_of(call: Any) -> str:
    return shown_fields(call).get("Engines", "")


def engine_posts(simulator: Any, path: str) -> list[dict[str, Any]]:
    return [r[2] for r in simulator.requests if r[1] == path]


async def test_with_sora_retired_a_create_gives_a_card_that_works_on_seedance_and_vidu(
    sora: Running, simulator, media_server, timecode_video
):
    simulator.scenario.update(sora_retired=True)
    sora.feed(create(url=f"{media_server}/{timecode_video.name}", start="2", end="4"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert engines_of(card) == f"Seedance 2 ready · Vidu Q3 ready\n{SORA_GONE}"
    notes = shown_fields(card)["Notes"]
    assert "virtual characters" in notes and "No likeness" not in notes
    assert "Username" not in shown_fields(card)
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None and stored.likeness is not None
    assert stored.display_name.endswith("'s character 1")
    seedance = stored.binding("seedance-2")
    assert seedance is not None and seedance.state is BindingState.READY
    assert len(seedance.data["asset_ids"]) == 3 and len(stored.still_urls) == 3
    assert stored.binding("viduq3") is not None
    # the stills are frames of the chosen range, the avatar the first of them
    stills = await sora.core.likenesses.stills(stored.likeness)
    times = await sora.core.likenesses.still_times(stored.likeness)
    assert stills is not None and times is not None and len(stills) == 3
    for at, jpeg in zip(times, stills, strict=True):
        assert 2.0 <= at <= 4.0
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert timecode_of(image) == round(at * 25)
    assert stored.avatar == stills[0]
    # no Sora task was asked for after the first refusal; each still uploaded once
    assert len(engine_posts(simulator, "/v1/uploads/images")) == 3
    groups = "/v1/videos/doubao-seedance-2-0/private-avatar/groups"
    assert len(engine_posts(simulator, groups)) == 1
    # the uploaded URLs are never shown
    assert not any(url in str(card.json) for url in stored.still_urls)


async def test_with_sora_live_the_card_shows_sora_then_the_other_engines_when_bound(
    sora: Running, simulator, media_server, short_video
):
    simulator.scenario.update(asset_delay=0.5)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    first = engines_of(card)
    assert first == f"Sora 2 `@{character.username}` · Seedance 2 preparing · Vidu Q3 preparing"

    def bound(call: Any) -> bool:
        return is_card(call) and "Seedance 2 ready" in engines_of(call)

    again = await sora.wait_call("PATCH", EDIT_REPLY, bound)
    assert engines_of(again) == (
        f"Sora 2 `@{character.username}` · Seedance 2 ready · Vidu Q3 ready"
    )
    assert isinstance(again.json, dict) and not again.json.get("content")  # no new ping


async def test_a_face_refused_by_seedance_leaves_a_character_that_works_on_vidu(
    sora: Running, simulator, media_server, face_video
):
    simulator.scenario.update(sora_retired=True, refuse_faces=True)
    sora.feed(create(url=f"{media_server}/{face_video.name}", start="5", end="7"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert engines_of(card) == (
        f"Vidu Q3 ready\n{SORA_GONE}\nSeedance 2: refuses real people's faces"
    )
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None and stored.binding("viduq3") is not None


async def test_a_german_member_reads_why_an_engine_refused_in_german(
    sora: Running, simulator, media_server, face_video
):
    """The Engines line's fixed reasons are the bot's words: in the asker's language."""
    from bot import i18n

    def de(msgid: str) -> str:
        german = i18n.translate("de", msgid)
        assert german != msgid, msgid
        return german

    simulator.scenario.update(sora_retired=True, refuse_faces=True)
    options = {"url": f"{media_server}/{face_video.name}", "start": "5", "end": "7"}
    sora.feed(payloads.slash_command("create", options, group="character", locale="de"))
    card = await sora.wait_call(
        "PATCH", EDIT_REPLY, lambda call: de("Character id") in shown_fields(call)
    )
    engines = shown_fields(card)[i18n.translate("de", "Engines")]
    faces = de("refuses real people's faces")
    gone = de("no longer offered by the video service")
    assert engines == f"Vidu Q3 {de('ready')}\nSora 2: {gone}\nSeedance 2: {faces}"


async def test_when_every_engine_refuses_nothing_is_kept_and_each_reason_is_said(
    sora: Running, simulator, media_server, face_video
):
    await sora.core.guild_settings.set(GUILD_ID, engines=("sora-2", "seedance-2"))
    simulator.scenario.update(sora_retired=True, refuse_faces=True)
    sora.feed(create(url=f"{media_server}/{face_video.name}", start="5", end="7"))

    def failed(call: Any) -> bool:
        return "No video engine" in shown_text(call)

    reply = await sora.wait_call("PATCH", EDIT_REPLY, failed)
    text = str(reply.json)
    assert "Sora 2: no longer offered" in text and "Seedance 2: refuses real people" in text
    assert await sora.core.characters.list_for_guild(GUILD_ID) == []


async def test_when_every_engine_refuses_a_german_member_reads_each_reason_in_german(
    sora: Running, simulator, media_server, face_video
):
    from bot import i18n

    await sora.core.guild_settings.set(GUILD_ID, engines=("sora-2", "seedance-2"))
    simulator.scenario.update(sora_retired=True, refuse_faces=True)
    options = {"url": f"{media_server}/{face_video.name}", "start": "5", "end": "7"}
    sora.feed(payloads.slash_command("create", options, group="character", locale="de"))
    faces = i18n.translate("de", "refuses real people's faces")
    gone = i18n.translate("de", "no longer offered by the video service")
    assert faces != "refuses real people's faces"

    reply = await sora.wait_call("PATCH", EDIT_REPLY, lambda call: faces in shown_text(call))
    text = shown_text(reply)
    assert f"Sora 2: {gone}" in text and f"Seedance 2: {faces}" in text
    assert "No video engine" not in text


def video_posts(simulator: Any) -> list[dict[str, Any]]:
    return [
        r.body
        for r in simulator.requests
        if r.path == "/v1/videos/generations" and r.body and "prompt" in r.body
    ]


def is_video(call: Any) -> bool:
    return "video is ready" in shown_text(call)


async def made_without_sora(sora: Running, media_server: str, video: Path) -> Any:
    sora.feed(create(url=f"{media_server}/{video.name}", start="2", end="4"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None
    return stored


async def test_videos_on_seedance_and_vidu_send_the_bound_character_and_reuse_it(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    uploads_before = len(engine_posts(simulator, "/v1/uploads/images"))
    assets = hero.binding("seedance-2").data["asset_ids"]

    sora.fake.clear()
    name = hero.display_name
    sora.feed(video(prompt=f"{name} waves", character=hero.character_id, model="seedance-2"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    [seedance] = video_posts(simulator)
    assert seedance["image_with_roles"] == [
        {"url": f"asset://{a}", "role": "reference_image"} for a in assets
    ]
    assert seedance["prompt"] == "The character from images 1-3 waves"
    assert seedance["client_business_id"].startswith("scb-")

    sora.fake.clear()
    sora.feed(video(prompt="dances", character=hero.character_id, model="viduq3", duration=5))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    vidu = video_posts(simulator)[-1]
    [subject] = vidu["metadata"]["subjects"]
    assert subject["images"] == list(hero.still_urls)
    assert vidu["prompt"] == f"dances, with @{subject['name']}"

    sora.fake.clear()  # a second video reuses the bindings: nothing uploaded again
    sora.feed(video(prompt="again", character=hero.character_id, model="seedance-2"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    assert len(engine_posts(simulator, "/v1/uploads/images")) == uploads_before
    assert video_posts(simulator)[-1]["image_with_roles"] == seedance["image_with_roles"]


async def test_the_default_model_gone_falls_back_to_a_live_engine_and_says_so(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    sora.fake.clear()
    sora.feed(video(prompt="smiles", character=hero.character_id))  # the server's sora-2
    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    assert video_posts(simulator)[-1]["model"] == "seedance-2"
    assert "sora-2 is not offered any more" in shown_fields(done)["Model note"]


async def test_vidu_asking_for_image_urls_is_sent_once_more_with_them(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True, vidu_needs_image_urls=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    sora.fake.clear()
    sora.feed(video(prompt="jumps", character=hero.character_id, model="viduq3", duration=4))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    first, second = video_posts(simulator)[-2:]
    assert "image_urls" not in first and second["image_urls"] == [hero.still_urls[0]]


async def test_a_character_refused_by_an_engine_is_refused_before_any_call(
    sora: Running, simulator, media_server, face_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True, refuse_faces=True)
    hero = await made_without_sora(sora, media_server, face_video)
    sora.fake.clear()
    sora.feed(video(prompt="sings", character=hero.character_id, model="seedance-2"))
    answer = await sora.wait_call("POST", r"/interactions/\d+/[^/]+/callback")
    assert "Seedance 2 does not take" in str(answer.json)
    assert "refuses real people's faces" in str(answer.json)
    assert video_posts(simulator) == []


async def test_settings_engines_chooses_what_new_characters_are_bound_to(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_limits import MANAGE_GUILD

    command = payloads.slash_command(
        "engines", {"engines": "viduq3"}, group="settings", permissions=MANAGE_GUILD
    )
    sora.feed(command)
    saved = await sora.wait_call("POST", r"/interactions/\d+/[^/]+/callback")
    text = str(saved.json)
    assert "Saved" in text and "Vidu Q3" in text and "not chosen here" in text
    sora.fake.clear()
    sora.feed(create(url=f"{media_server}/{timecode_video.name}", start="2", end="4"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert engines_of(card) == "Vidu Q3 ready"  # Sora was not asked, Seedance not made
    assert not [r for r in simulator.requests if "private-avatar" in r.path]
    assert [p for p in video_posts(simulator)] == []
    bad = payloads.slash_command(
        "engines", {"engines": "kling"}, group="settings", permissions=MANAGE_GUILD
    )
    sora.fake.clear()
    sora.feed(bad)
    refused = await sora.wait_call("POST", r"/interactions/\d+/[^/]+/callback")
    assert "kling is not an engine" in str(refused.json)


async def test_deleting_or_forgetting_a_character_removes_its_kept_likeness(
    sora: Running, simulator, media_server, timecode_video
):
    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    store = sora.core.likenesses
    assert await store.exists(hero.likeness)
    assert await sora.core.delete_character(GUILD_ID, hero.character_id)
    assert not await store.exists(hero.likeness) and await store.stills(hero.likeness) is None

    sora.fake.clear()
    second = await made_without_sora(sora, media_server, timecode_video)
    assert second.creator_id is not None and await store.exists(second.likeness)
    done = await sora.core.forget_member(GUILD_ID, second.creator_id, delete_characters=True)
    assert done.characters == 1 and not await store.exists(second.likeness)


async def test_a_character_without_a_likeness_gets_one_from_its_card_without_a_new_sora_task(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_library import modal_values, reply_to

    # made while the server bound characters to Sora alone: no likeness kept
    await sora.core.guild_settings.set(GUILD_ID, engines=("sora-2",))
    sora.feed(create(url=f"{media_server}/{timecode_video.name}", start="2", end="4"))
    card_call = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    assert engines_of(card_call).startswith("Sora 2 `@")
    assert "No likeness is kept" in shown_fields(card_call)["Notes"]
    card = sora.fake.message(int(card_call.path.rsplit("/", 1)[1]))
    assert card is not None
    buttons = {b["label"]: b["custom_id"] for b in buttons_in(card)}
    assert "Add the likeness" in buttons

    await sora.core.guild_settings.set(GUILD_ID, engines=())  # the server now uses all
    sora_tasks = len(engine_posts(simulator, "/v1/videos/generations"))
    form = await reply_to(sora, payloads.component_click(buttons["Add the likeness"], card))
    custom_id, values = modal_values(form.json, start="2.5", end="4")
    sora.fake.clear()
    sora.feed(payloads.modal_submit(custom_id, values, message=card))

    def bound(call: Any) -> bool:
        return is_card(call) and "Vidu Q3 ready" in engines_of(call)

    again = await sora.wait_call("PATCH", EDIT_REPLY, bound)
    assert "Seedance 2 ready" in engines_of(again)
    assert "No likeness" not in str(again.json)
    assert len(engine_posts(simulator, "/v1/videos/generations")) == sora_tasks  # no Sora task
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None and stored.likeness is not None
    times = await sora.core.likenesses.still_times(stored.likeness)
    assert times is not None and all(2.5 <= t <= 4.0 for t in times)


async def test_a_character_from_a_video_task_takes_its_likeness_from_the_result(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True, result_video_file=str(timecode_video))
    hero = await made_without_sora(sora, media_server, timecode_video)
    sora.fake.clear()
    sora.feed(video(prompt="walks", character=hero.character_id, model="viduq3", duration=5))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    await sora.settle()
    [made] = [j for j in await sora.core.jobs.list_for_guild(GUILD_ID) if j.kind.value == "video"]
    assert made.task_id is not None
    sora.fake.clear()
    sora.feed(create(from_task=made.task_id, start="1", end="3"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert engines_of(card).startswith("Seedance 2 ready · Vidu Q3 ready")
    characters = await sora.core.characters.list_for_guild(GUILD_ID)
    newest = await sora.core.characters.get(GUILD_ID, characters[0].character_id)
    assert newest is not None and newest.likeness is not None and newest.id != hero.id


async def test_a_video_on_an_engine_the_character_lacks_binds_it_first_and_says_so(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    await sora.core.guild_settings.set(GUILD_ID, engines=("sora-2", "viduq3"))
    sora.feed(create(url=f"{media_server}/{timecode_video.name}", start="2", end="4", name="Mira"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert shown_title(card) == "Mira"  # the name given wins over Sora's
    await sora.settle()
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    assert character.display_name == "Mira"
    assert not [r for r in simulator.requests if "private-avatar" in r.path]

    sora.fake.clear()
    sora.feed(video(prompt="Mira bows", character=character.character_id, model="seedance-2"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    said = [c for c in sora.fake.calls if "Preparing Mira for Seedance 2 first" in str(c.json)]
    assert said, [(c.method, c.path, str(c.json)[:120]) for c in sora.fake.calls]
    [sent] = video_posts(simulator)
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None
    seedance = stored.binding("seedance-2")
    assert seedance is not None and seedance.state is BindingState.READY
    assert [r["url"] for r in sent["image_with_roles"]] == [
        f"asset://{a}" for a in seedance.data["asset_ids"]
    ]
    assert sent["prompt"] == "The character from images 1-3 bows"
    # the stills uploaded for Vidu serve Seedance's assets too: each uploaded once
    assert len(engine_posts(simulator, "/v1/uploads/images")) == 3


async def test_binding_a_character_first_that_the_engine_refuses_says_why_and_sends_nothing(
    sora: Running, simulator, media_server, face_video
):
    from tests.cogs.test_video_create import video

    await sora.core.guild_settings.set(GUILD_ID, engines=("sora-2", "viduq3"))
    simulator.scenario.update(refuse_faces=True)
    sora.feed(create(url=f"{media_server}/{face_video.name}", start="5", end="7", name="Ann"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    sora.fake.clear()
    sora.feed(video(prompt="Ann sings", character=character.character_id, model="seedance-2"))
    refused = await sora.wait_call(
        "POST", r"/webhooks/\d+/[^/]+", lambda c: "does not take" in str(c.json)
    )
    assert "Seedance 2 does not take Ann: refuses real people's faces" in str(refused.json)
    assert video_posts(simulator) == []
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert stored is not None
    seedance = stored.binding("seedance-2")
    assert seedance is not None and seedance.state is BindingState.REFUSED  # not "preparing"


async def test_a_video_refused_for_lost_assets_says_so_and_the_binding_is_made_again(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    old_assets = hero.binding("seedance-2").data["asset_ids"]
    simulator.assets.clear()  # the account lost them
    sora.fake.clear()
    sora.feed(video(prompt="runs", character=hero.character_id, model="seedance-2"))
    failed = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "being made again" in str(c.json))
    assert "try again in a minute" in str(failed.json)
    await sora.settle()
    again = await sora.core.characters.get(GUILD_ID, hero.character_id)
    assert again is not None
    seedance = again.binding("seedance-2")
    assert seedance is not None and seedance.state is BindingState.READY
    assert seedance.data["asset_ids"] != old_assets and len(seedance.data["asset_ids"]) == 3
    assert len(engine_posts(simulator, "/v1/uploads/images")) == 6  # uploaded again, once


async def test_a_seedance_video_with_three_bound_characters_sends_nine_images_and_uploads_none(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True)
    for start, end in (("1", "3"), ("3", "5"), ("5", "7")):
        sora.fake.clear()
        sora.feed(create(url=f"{media_server}/{timecode_video.name}", start=start, end=end))
        await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    three = await sora.core.characters.list_for_guild(GUILD_ID)
    assert len(three) == 3
    uploads = len(engine_posts(simulator, "/v1/uploads/images"))
    sora.fake.clear()
    ids = [c.character_id for c in three]
    sora.feed(
        video(
            prompt="a picnic",
            character=ids[0],
            character2=ids[1],
            character3=ids[2],
            model="seedance-2",
        )
    )
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    [sent] = video_posts(simulator)
    assert len(sent["image_with_roles"]) == 9
    for words in ("images 1-3", "images 4-6", "images 7-9"):
        assert words in sent["prompt"]
    assert len(engine_posts(simulator, "/v1/uploads/images")) == uploads  # none this time


async def test_purging_a_server_the_bot_left_deletes_its_kept_likenesses(
    sora: Running, simulator, media_server, timecode_video
):
    import time

    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    store = sora.core.likenesses
    assert await store.exists(hero.likeness)
    lifecycle = sora.core.lifecycle
    await lifecycle.left(GUILD_ID)
    lifecycle.clock = lambda: time.time() + (lifecycle.guild_days + 1) * 86400
    result = await lifecycle.purge()
    assert GUILD_ID in result.guilds
    assert not await store.exists(hero.likeness)


async def test_a_vidu_video_whose_stills_cannot_be_read_uploads_them_again(
    sora: Running, simulator, media_server, timecode_video
):
    from tests.cogs.test_video_create import video

    simulator.scenario.update(sora_retired=True)
    hero = await made_without_sora(sora, media_server, timecode_video)
    for url in hero.still_urls:  # the uploaded URLs no longer live
        (simulator._upload_dir / url.rsplit("/", 1)[1]).unlink()
    sora.fake.clear()
    sora.feed(video(prompt="waves", character=hero.character_id, model="viduq3", duration=4))
    failed = await sora.wait_call(
        "PATCH", EDIT_REPLY, lambda c: "being uploaded again" in str(c.json)
    )
    assert not any(url in str(failed.json) for url in hero.still_urls)
    await sora.settle()
    again = await sora.core.characters.get(GUILD_ID, hero.character_id)
    assert again is not None and len(again.still_urls) == 3
    assert set(again.still_urls).isdisjoint(hero.still_urls)
    sora.fake.clear()
    sora.feed(video(prompt="waves", character=hero.character_id, model="viduq3", duration=4))
    await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    assert video_posts(simulator)[-1]["metadata"]["subjects"][0]["images"] == list(again.still_urls)


async def test_a_crash_between_the_card_and_its_binding_still_binds_the_character(
    sora: Running, simulator, media_server, short_video
):
    import dataclasses

    tracker = sora.core.tracker
    tracker.timings = dataclasses.replace(tracker.timings, sweep_interval=0.2, sweep_retry=0.2)
    announcer = tracker._announcer
    real = announcer.after_cards
    assert real is not None
    calls: list[int] = []

    async def dies_once(job: Any) -> None:
        calls.append(job.id)
        if len(calls) == 1:
            raise RuntimeError("the process died right after the card")
        await real(job)

    announcer.after_cards = dies_once
    sora.feed(create(url=f"{media_server}/{short_video.name}"))

    def bound(call: Any) -> bool:
        return is_card(call) and "Seedance 2 ready" in engines_of(call)

    await sora.wait_call("PATCH", EDIT_REPLY, bound)
    assert len(calls) >= 2
    groups = "/v1/videos/doubao-seedance-2-0/private-avatar/groups"
    assert len(engine_posts(simulator, groups)) == 1
