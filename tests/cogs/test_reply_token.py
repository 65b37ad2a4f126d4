"""Job replies are edited with the interaction token while it is valid (memory only)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.log_redaction import RedactingFormatter
from tests.cogs.conftest import Running
from tests.cogs.test_character_create import BOT_EDIT, create, is_card
from tests.fakes import APP_ID, CHANNEL_ID, USER_ID, payloads
from tests.fakes.ids import DISCORD_EPOCH_MS
from tests.fakes.seen import shown_fields

TOKEN_EDIT = rf"/webhooks/{APP_ID}/[^/]+/messages/\d+"


def read_database_files(folder: Path) -> bytes:
    """The database file and its journal/WAL, as bytes."""
    return b"".join(p.read_bytes() for p in folder.glob("bot.sqlite3*"))


@pytest.fixture
def bot_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, formatted as the bot's log handler writes it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(RedactingFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_card_reaches_the_reply_in_a_channel_closed_to_the_bot(
    sora: Running, tmp_path: Path, media_server, short_video, bot_log
):
    sora.fake.deny_channel(CHANNEL_ID)  # bot-token posts and edits answer 403
    command = create(url=f"{media_server}/{short_video.name}")
    token = command["token"]
    sora.feed(command)

    card = await sora.wait_call("PATCH", TOKEN_EDIT, is_card)
    await sora.settle()
    assert token in card.path  # edited with that interaction's token
    reply_id = sora.fake.store.thread(token).original_id
    assert reply_id is not None and card.path.endswith(f"/messages/{reply_id}")
    shown = sora.fake.message(reply_id)
    assert shown is not None and "Character id" in shown_fields(shown)
    ping = await sora.wait_call("POST", rf"/webhooks/{APP_ID}/[^/]+")  # a followup
    assert f"<@{USER_ID}>" in str(ping.json)
    assert not sora.fake.calls_to("POST", r"/users/@me/channels")  # no DM needed

    stored = read_database_files(tmp_path)
    assert stored
    assert token.encode() not in stored
    assert token not in bot_log.getvalue()
    assert "/webhooks/" in bot_log.getvalue()  # the edits were logged, redacted


async def test_a_token_near_its_15_minutes_is_not_used(sora: Running, media_server, short_video):
    old_ms = int((time.time() - 14.5 * 60) * 1000) - DISCORD_EPOCH_MS
    command = payloads.slash_command(
        "create",
        {"start": "1", "end": "3", "url": f"{media_server}/{short_video.name}"},
        group="character",
        id=old_ms << 22,  # an interaction from 14.5 minutes ago
    )
    sora.feed(command)
    card = await sora.wait_call("PATCH", BOT_EDIT, is_card)
    await sora.settle()
    assert "Character id" in str(card.json)
    assert not sora.fake.calls_to("PATCH", TOKEN_EDIT)  # only the first answer used it
