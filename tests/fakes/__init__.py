"""Fakes of Discord for tests that keep discord.py real.

`FakeDiscord` (REST on loopback, point `discord.http.Route.BASE` at `await start()`),
`FakeGateway` (websocket at `/gateway`, mounted on FakeDiscord), `payloads` (builders of
the payloads Discord sends), and the snowflakes of the fake world.
"""

from tests.fakes import payloads
from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_http import RecordedCall
from tests.fakes.discord_rest import FakeDiscord
from tests.fakes.ids import (
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    OTHER_GUILD_ID,
    OTHER_USER_ID,
    USER_ID,
    interaction_token,
    snowflake,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "CHANNEL_ID",
    "DM_CHANNEL_ID",
    "GUILD_ID",
    "OTHER_GUILD_ID",
    "OTHER_USER_ID",
    "USER_ID",
    "FakeDiscord",
    "FakeGateway",
    "RecordedCall",
    "interaction_token",
    "payloads",
    "snowflake",
]
