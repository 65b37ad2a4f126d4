"""Members see one place in line while their jobs wait for the account's submit budget."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.cogs.conftest import bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, is_card
from tests.fakes import USER_ID, payloads
from tests.fakes.seen import shown_text

MEMBERS = 6
PLACE = re.compile(r"#(\d+) in line, about")


async def test_members_see_their_place_in_line_go_down_until_their_card(
    tmp_path: Path, fake_discord: Any, simulator: Any, media_server: str, short_video: Path
) -> None:
    # One create request per second, enforced by toapis (the simulator) and kept by the bot.
    simulator.scenario.update(tier="default", submit_per_second=1)
    settings = bot_settings(tmp_path, fake_discord, simulator, toapis_submit_per_second=1)
    sora = await start_bot(settings, fake_discord)
    sora.core.tracker.line.notice_interval = 0.1
    url = f"{media_server}/{short_video.name}"
    try:
        for n in range(MEMBERS):
            options = {"url": url, "start": "1", "end": "3"}
            sora.feed(
                payloads.slash_command("create", options, group="character", user_id=USER_ID + n)
            )

        async def cards() -> set[str]:
            while True:
                done = {c.path for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)}
                if len(done) >= MEMBERS:
                    return done
                await asyncio.sleep(0.05)

        done = await asyncio.wait_for(cards(), timeout=60)
        assert len(done) == MEMBERS and simulator.submits == MEMBERS
        assert simulator.limits.to_dict()["submit"]["limited"] == 0  # never over the limit
        seen: dict[str, list[int]] = {}
        for call in sora.fake.calls_to("PATCH", EDIT_REPLY):
            match = PLACE.search(shown_text(call))
            if match:
                seen.setdefault(call.path, []).append(int(match.group(1)))
        # The later members were told a place, and it went down as the line moved.
        assert max(max(places) for places in seen.values()) >= MEMBERS - 1, seen
        assert any(len(set(places)) > 1 for places in seen.values()), seen
        for places in seen.values():
            assert places == sorted(places, reverse=True), seen  # never back up
    finally:
        await sora.bot.close()


async def test_progress_edits_share_one_write_budget_and_cards_are_never_stale(
    tmp_path: Path, fake_discord: Any, simulator: Any, media_server: str, short_video: Path
) -> None:
    # Many progress states, one Discord write per second for everything: progress edits
    # are coalesced per message and each reply ends as its card.
    simulator.scenario.update(progress_steps=[5, 10, 20, 30, 40, 50, 60, 70, 80, 90])
    settings = bot_settings(tmp_path, fake_discord, simulator, discord_writes_per_second=1)
    sora = await start_bot(settings, fake_discord)
    url = f"{media_server}/{short_video.name}"
    try:
        for n in range(4):
            options = {"url": url, "start": "1", "end": "3"}
            sora.feed(
                payloads.slash_command("create", options, group="character", user_id=USER_ID + n)
            )

        async def cards() -> set[str]:
            while True:
                done = {c.path for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)}
                if len(done) >= 4:
                    return done
                await asyncio.sleep(0.05)

        await asyncio.wait_for(cards(), timeout=60)
        await sora.settle()
        per_reply: dict[str, list[Any]] = {}
        for call in sora.fake.calls_to("PATCH", EDIT_REPLY):
            per_reply.setdefault(call.path, []).append(call)
        for calls in per_reply.values():
            assert is_card(calls[-1])  # nothing after the card
            progress = [c for c in calls if "%" in str(c.json) and not is_card(c)]
            assert len(progress) <= 3, [str(c.json)[:80] for c in progress]  # not ten
    finally:
        await sora.bot.close()
