"""Many members at once: media work has its own bounded pools and members see their place."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from bot.domain.records import Job, JobState, NewJob, Quota
from storage.jobs import INTERRUPTED_PREPARING
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, is_card
from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, payloads
from tests.fakes.seen import shown_text

ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
MEMBERS = 12


def attachment_create(sora: Running, name: str, video: Path, user_id: int) -> dict[str, Any]:
    sora.fake.add_media(name, video)
    return payloads.slash_command(
        "create",
        {"start": "1", "end": "2"},
        group="character",
        attachments={"video": sora.fake.media_attachment(name)},
        user_id=user_id,
    )


def descriptions(sora: Running) -> list[str]:
    return [
        shown_text(c)
        for c in sora.fake.calls_to("PATCH", ORIGINAL)
        if isinstance(c.json, dict) and (c.json.get("embeds") or c.json.get("components"))
    ]


async def test_twelve_members_creating_from_attachments_at_once_all_get_their_card(
    tmp_path: Path, fake_discord: Any, simulator: Any, short_video: Path
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator, media_workers=2)
    sora = await start_bot(settings, fake_discord)
    pool = sora.core.intake.workers.media
    gate = threading.Event()
    # Both workers are busy while the twelve arrive, so every member waits in line.
    held = [asyncio.create_task(pool.run(lambda: gate.wait(30))) for _ in range(2)]
    try:
        for n in range(MEMBERS):
            sora.feed(attachment_create(sora, f"clip{n}.mp4", short_video, USER_ID + 1 + n))
        for _ in range(1000):
            if pool.waiting == MEMBERS:
                break
            await asyncio.sleep(0.01)
        assert pool.waiting == MEMBERS
        gate.set()
        await asyncio.gather(*held)

        async def cards() -> set[str]:
            while True:
                done = {c.path for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if is_card(c)}
                if len(done) >= MEMBERS:
                    return done
                await asyncio.sleep(0.05)

        done = await asyncio.wait_for(cards(), timeout=60)
        assert len(done) == MEMBERS  # one card in each member's own reply
        characters = await sora.core.characters.list_for_guild(GUILD_ID, limit=50)
        assert len(characters) == MEMBERS
        assert {c.creator_id for c in characters} == {USER_ID + 1 + n for n in range(MEMBERS)}
        submits = [r for r in simulator.requests if r[1] == "/v1/videos/generations"]
        assert len(submits) == MEMBERS
        # Every member was told a place in line: #12 for the last one to arrive.
        shown = descriptions(sora)
        for place in range(1, MEMBERS + 1):
            assert any(f"#{place} in line: waiting to prepare the video." in d for d in shown), (
                place,
                [d.splitlines()[1] for d in shown if "line" in d or "Prep" in d],
            )
    finally:
        gate.set()
        await sora.bot.close()


async def preparing(sora: Running, new: NewJob) -> Job:
    """A job stored as its video is about to be prepared (no limit in the way)."""
    job = await sora.core.tracker.reserve(new, Quota(since=0))
    assert isinstance(job, Job)
    return job


async def test_a_restart_while_preparing_tells_the_member_nothing_was_sent(
    tmp_path: Path, fake_discord: Any, simulator: Any, short_video: Path
) -> None:
    settings = bot_settings(tmp_path, fake_discord, simulator)
    sora = await start_bot(settings, fake_discord)
    try:
        order_job = await preparing(sora, _new_job(channel_id=CHANNEL_ID, requester_id=USER_ID))
    finally:
        await sora.bot.close()
    fake_discord.clear()

    again = await start_bot(settings, fake_discord)
    try:
        told = await again.wait_call("POST", rf"/channels/{CHANNEL_ID}/messages")
        assert "nothing was charged" in str(told.json)
        job = await again.core.jobs.get(order_job.id)
        assert job.state is JobState.FAILED and job.error_message == INTERRUPTED_PREPARING
        assert job.announced_at is not None
        assert [r for r in simulator.requests if r[1] == "/v1/videos/generations"] == []
    finally:
        await again.bot.close()


async def test_a_restart_while_preparing_a_link_prepares_it_again_and_sends_it(
    tmp_path: Path, fake_discord: Any, simulator: Any, media_server: str, short_video: Path
) -> None:
    from bot.media.orders import plan_order
    from tests.fakes.objects import message

    settings = bot_settings(tmp_path, fake_discord, simulator)
    reply = fake_discord.add_message(message(content="Preparing the video…"))
    link = f"{media_server}/{short_video.name}"
    order = plan_order(url=link, start="1", end="3", model=None, allow_private=True)
    sora = await start_bot(settings, fake_discord)
    try:
        job = await preparing(
            sora,
            order.new_job(
                guild_id=GUILD_ID,
                channel_id=CHANNEL_ID,
                message_id=int(reply["id"]),
                requester_id=USER_ID,
                provider="toapis",
            ),
        )
    finally:
        await sora.bot.close()  # its media work dies with it

    again = await start_bot(settings, fake_discord)
    try:
        await again.wait_call(
            "PATCH", rf"/channels/{CHANNEL_ID}/messages/{reply['id']}", is_card, within=60
        )
        stored = await again.core.jobs.get(job.id)
        assert stored is not None and stored.task_id is not None
        submits = [r for r in simulator.requests if r[1] == "/v1/videos/generations"]
        assert [r[2]["url"] for r in submits] == [link]  # prepared again, sent once
    finally:
        await again.bot.close()


def _new_job(*, channel_id: int, requester_id: int) -> Any:
    from bot.media.orders import AttachmentInfo, plan_order

    # An attachment: its signed link is not stored, so it cannot be prepared again.
    video = AttachmentInfo(url="https://cdn.example.com/a.mp4", filename="a.mp4", size=1000)
    order = plan_order(video=video, start="1", end="3", model=None)
    return order.new_job(
        guild_id=GUILD_ID,
        channel_id=channel_id,
        message_id=None,
        requester_id=requester_id,
        provider="toapis",
    )
