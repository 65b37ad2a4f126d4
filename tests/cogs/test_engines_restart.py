"""Binding survives a restart: a bot stopped while Seedance assets are processed picks the
binding job up at its next start, asks for nothing twice, and the card shows the engines."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.cogs.conftest import bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.cogs.test_engines import engine_posts, engines_of
from tests.fakes import GUILD_ID

ALL = "sora-2,seedance-2,viduq3"
GROUPS = "/v1/videos/doubao-seedance-2-0/private-avatar/groups"
ASSETS = "/v1/videos/doubao-seedance-2-0/private-avatar/assets"


async def test_a_binding_cut_short_by_a_restart_ends_ready_without_asking_twice(
    tmp_path, fake_discord, simulator, media_server, short_video
):
    simulator.scenario.update(sora_retired=True, asset_delay=3.0)
    settings = bot_settings(tmp_path, fake_discord, simulator, character_engines=ALL)
    first = await start_bot(settings, fake_discord)
    try:
        first.feed(create(url=f"{media_server}/{short_video.name}", start="1", end="3"))
        for _ in range(600):  # the three assets asked for; they are still processing
            if len([r for r in simulator.requests if r.path == ASSETS]) == 3:
                break
            await asyncio.sleep(0.05)
        assert await first.core.characters.list_for_guild(GUILD_ID) == []
    finally:
        await first.bot.close()

    second = await start_bot(settings, fake_discord)
    try:

        def ready(call: Any) -> bool:
            return is_card(call) and engines_of(call).startswith("Seedance 2 ready")

        card = await second.wait_call("PATCH", EDIT_REPLY, ready)
        assert "Vidu Q3 ready" in engines_of(card)
        assert len(engine_posts(simulator, GROUPS)) == 1  # nothing asked for twice
        assert len(engine_posts(simulator, ASSETS)) == 3
        assert len(engine_posts(simulator, "/v1/uploads/images")) == 3
        [character] = await second.core.characters.list_for_guild(GUILD_ID)
        assert character.likeness is not None
    finally:
        await second.bot.close()
