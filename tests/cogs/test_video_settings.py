"""`/settings video` through real discord.py and the fake Discord: each value changed by a
Manage Server member, shown in `/settings show`, and a member refused privately, no API call."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_library import reply_to
from tests.cogs.test_limits import private_answer, settings
from tests.cogs.test_video_create import characters, video, video_posts
from tests.fakes import GUILD_ID, payloads


def shown(call: Any) -> dict[str, str]:
    assert isinstance(call.json, dict)
    return {f["name"]: f["value"] for f in call.json["data"]["embeds"][0]["fields"]}


async def test_settings_video_changes_each_value_and_show_lists_them(sora: Running) -> None:
    before = shown(await reply_to(sora, settings("show", {})))
    assert before["Videos"] == "on" and before["Video models"] == "all"
    assert before["Videos per day, per member"] == "3"

    saved = await reply_to(sora, settings("video", {"enabled": False}))
    assert saved.json["data"]["content"] == "Saved." and shown(saved)["Videos"] == "off"
    saved = await reply_to(sora, settings("video", {"models": "sora-2-pro, sora-2-vip"}))
    assert shown(saved)["Video models"] == "sora-2-pro, sora-2-vip"
    saved = await reply_to(sora, settings("video", {"per_day": 7}))
    assert shown(saved)["Videos per day, per member"] == "7"
    assert shown(saved)["Videos"] == "off"  # the others stay

    after = shown(await reply_to(sora, settings("show", {})))
    assert (after["Videos"], after["Video models"], after["Videos per day, per member"]) == (
        "off",
        "sora-2-pro, sora-2-vip",
        "7",
    )
    saved = await reply_to(sora, settings("video", {"enabled": True, "models": "all"}))
    assert (shown(saved)["Videos"], shown(saved)["Video models"]) == ("on", "all")


async def test_settings_video_refuses_unknown_models_and_members_without_manage(
    sora: Running,
) -> None:
    text = await private_answer(sora, settings("video", {"models": "sora-2, sora-3"}))
    assert text == (
        "Not changed: sora-3 is not a model (choose from sora-2, sora-2-pro, seedance-2, "
        "seedance-2-fast, seedance-2-mini, viduq3, sora-2-vip, or 'all')."
    )
    text = await private_answer(
        sora, payloads.slash_command("video", {"enabled": False}, group="settings")
    )
    assert text == "You need the Manage Server permission to change settings."
    current = await sora.core.guild_settings.get(GUILD_ID)
    assert (current.video_enabled, current.video_models) == (True, ())


async def test_members_are_refused_privately_by_each_video_setting(
    sora: Running, simulator: Any, media_server: str, short_video: Any
) -> None:
    [hero] = await characters(sora, media_server, short_video, 1)
    await reply_to(sora, settings("video", {"enabled": False}))
    text = await private_answer(sora, video(prompt="waves", character=hero.character_id))
    assert text == "Video generation is off in this server."

    await reply_to(sora, settings("video", {"enabled": True, "models": "sora-2-pro"}))
    text = await private_answer(sora, video(prompt="waves", character=hero.character_id))
    assert text == "This server allows videos with sora-2-pro only."
    assert video_posts(simulator) == []

    await reply_to(sora, settings("video", {"models": "all", "per_day": 1}))
    sora.fake.clear()
    sora.feed(video(prompt="waves", character=hero.character_id))
    await sora.wait_call("PATCH", r".*/messages/\d+", lambda c: "video is ready" in str(c.json))
    await sora.settle()
    text = await private_answer(sora, video(prompt="again", character=hero.character_id))
    assert text.startswith("You have made 1 videos today, this server's limit per member.")
    assert len(video_posts(simulator)) == 1
