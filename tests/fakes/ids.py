"""Ids of the fake Discord world: fixed snowflakes, a snowflake generator, tokens, times."""

from __future__ import annotations

import base64
import datetime
import itertools
import secrets
import threading
import time

DISCORD_EPOCH_MS = 1_420_070_400_000

APP_ID = 1_300_000_000_000_000_001
BOT_ID = 1_300_000_000_000_000_002
GUILD_ID = 1_300_000_000_000_000_101
OTHER_GUILD_ID = 1_300_000_000_000_000_102
CHANNEL_ID = 1_300_000_000_000_000_201
DM_CHANNEL_ID = 1_300_000_000_000_000_202
USER_ID = 1_300_000_000_000_000_301
OTHER_USER_ID = 1_300_000_000_000_000_302

BOT_NAME = "Sora Character Bot"
GUILD_NAME = "Fake Guild"
CHANNEL_NAME = "general"

# Administrator-free "everything a member usually has" bitfield, as Discord sends it (a string).
DEFAULT_PERMISSIONS = "2248473465835073"
# What an app typically gets in a guild: view, send, embed, attach, read history, reactions...
APP_PERMISSIONS = "2248473465835073"

_lock = threading.Lock()
_last = 0
_counter = itertools.count()


def snowflake() -> int:
    """A new, strictly increasing snowflake whose timestamp part is the current time.

    discord.py derives `created_at` (and so `Interaction.is_expired()`) from it.
    """
    global _last
    with _lock:
        stamp = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (stamp << 22) | (next(_counter) & 0xFFF)
        _last = value = max(value, _last + 1)
        return value


def interaction_token(interaction_id: int | None = None) -> str:
    """A token shaped like Discord's: base64url of `interaction:<id>:<random>`."""
    ident = interaction_id if interaction_id is not None else snowflake()
    raw = f"interaction:{ident}:{secrets.token_urlsafe(96)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def iso_now() -> str:
    """The current UTC time in Discord's ISO 8601 format."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
