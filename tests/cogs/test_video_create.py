"""`/video create` through real discord.py, the fake Discord REST server and the simulator."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.fakes import GUILD_ID, USER_ID, payloads
from tests.fakes.components_v2 import walk
from tests.fakes.seen import buttons, shown_fields, shown_text, shown_title

EPHEMERAL = 64


def video(**options: Any) -> dict[str, Any]:
    limit = options.pop("upload_limit", None)
    guild_id = options.pop("guild_id", GUILD_ID)
    payload = payloads.slash_command("create", options, group="video", guild_id=guild_id)
    if limit is not None:
        payload["attachment_size_limit"] = limit
    return payload


def is_video(call: Any) -> bool:
    return shown_title(call) == "Your video is ready"


async def characters(sora: Running, media_server: str, short_video: Any, count: int) -> list[Any]:
    for _ in range(count):
        sora.fake.clear()
        sora.feed(create(url=f"{media_server}/{short_video.name}"))
        await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    return list(await sora.core.characters.list_for_guild(GUILD_ID))


def video_posts(simulator: Any) -> list[Any]:
    return [
        r.body
        for r in simulator.requests
        if r.path == "/v1/videos/generations" and r.body and "prompt" in r.body
    ]


async def test_one_character_video_is_posted_as_a_file(
    sora: Running, simulator, media_server, short_video
):
    [hero] = await characters(sora, media_server, short_video, 1)
    sora.fake.clear()
    sora.feed(video(prompt="rides a bike", character=hero.character_id))

    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    assert video_posts(simulator) == [
        {
            "model": "sora-2",
            "prompt": f"@{hero.username} rides a bike",
            "duration": 10,
            "aspect_ratio": "16:9",
        }
    ]
    info = shown_fields(done)
    assert info["Prompt"] == f"@{hero.username} rides a bike".replace("_", "\\_")
    assert info["Model"] == "sora-2" and info["Duration"].startswith("10 s")
    assert info["Requested by"] == f"<@{USER_ID}>"
    [(_, filename, data)] = done.files
    assert filename == "video.mp4" and data.startswith(b"\x00\x00\x00\x18ftyp")
    assert isinstance(done.json, dict)
    labels = [c["label"] for c in buttons(done)]
    assert labels == ["Again", "Make a character from this"]
    galleries = [c for c in walk(done.json["components"]) if c["type"] == 12]
    assert [i["media"]["url"] for g in galleries for i in g["items"]] == ["attachment://video.mp4"]


async def test_three_characters_and_a_video_over_the_upload_limit_is_a_link(
    sora: Running, simulator, media_server, short_video
):
    three = await characters(sora, media_server, short_video, 3)
    sora.fake.clear()
    ids = [c.character_id for c in three]
    sora.feed(
        video(
            prompt="have a picnic",
            character=ids[0],
            character2=ids[1],
            character3=ids[2],
            model="sora-2-pro",
            upload_limit=1000,
        )
    )
    done = await sora.wait_call("PATCH", EDIT_REPLY, is_video)
    [sent] = video_posts(simulator)
    assert sent["duration"] == 15 and sent["model"] == "sora-2-pro"
    assert all(f"@{c.username}" in sent["prompt"] for c in three)
    shown = shown_text(done)
    assert "expires in 24 hours" in shown and "/f/video/" in shown
    assert done.files == []


async def test_a_duration_the_model_cannot_do_is_refused_before_any_call(
    sora: Running, simulator, media_server, short_video
):
    [hero] = await characters(sora, media_server, short_video, 1)
    sora.fake.clear()
    sora.feed(video(prompt="jumps", character=hero.character_id, duration=25))
    answer = await sora.wait_call("POST", r"/interactions/\d+/[^/]+/callback")
    assert isinstance(answer.json, dict) and answer.json["data"]["flags"] == EPHEMERAL
    assert "sora-2 makes videos of 10 s or 15 s, not 25 s." in answer.json["data"]["content"]
    assert video_posts(simulator) == []


async def test_a_character_of_another_server_is_refused(
    sora: Running, simulator, media_server, short_video
):
    [hero] = await characters(sora, media_server, short_video, 1)
    sora.fake.clear()
    sora.feed(video(prompt="jumps", character=hero.character_id, guild_id=GUILD_ID + 1))
    answer = await sora.wait_call("POST", r"/interactions/\d+/[^/]+/callback")
    assert isinstance(answer.json, dict)
    assert "not in this server's library" in answer.json["data"]["content"]
    assert video_posts(simulator) == []


def test_help_shows_video_create():
    from cogs.help import help_embed

    text = str(help_embed().to_dict())
    assert "/video create prompt: character:" in text and "Use in a video" in text
