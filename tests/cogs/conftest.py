"""A real SoraBot wired to the fake Discord REST server and the toapis simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.providers.toapis import ToapisClient
from bot.runtime.app import SoraBot
from bot.runtime.config import Settings
from bot.runtime.settings_check import load_settings
from tests.fakes import GUILD_ID, FakeDiscord
from tests.fakes.discord_http import RecordedCall

BOT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.bot-token-for-tests-only-0123456789"


def bot_settings(tmp_path: Path, fake: FakeDiscord, simulator: Any, **extra: Any) -> Settings:
    """Settings as a deployment would have them, pointed at the fakes."""
    values: dict[str, Any] = {
        "discord_token": BOT_TOKEN,
        "toapis_api_key": simulator.scenario.api_key,
        "toapis_base_url": simulator.base_url,
        "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "discord_api_base_url": fake.base_url,
        "poll_interval_seconds": 0.03,
        "allow_private_urls": True,
        # Characters bound to Sora alone, as before engines: tests/cogs/test_engines.py
        # runs the bot with every engine.
        "character_engines": "sora-2",
    }
    values.update(extra)
    return load_settings(**values)


async def roomy_limits(db_path: Path, guild_id: int = GUILD_ID) -> None:
    """Lift a server's spending limits out of the way (tests that run many jobs)."""
    from storage import open_database
    from storage.guild_settings import GuildSettingsRepository

    db = await open_database(db_path)
    try:
        await GuildSettingsRepository(db).set_many(
            guild_id, {"jobs_at_once": 20, "jobs_per_day": 1000, "server_jobs_per_day": 100_000}
        )
    finally:
        await db.close()


class Running:
    """A logged-in bot plus helpers to feed it interactions and read what users saw."""

    def __init__(self, bot: SoraBot, fake: FakeDiscord) -> None:
        self.bot = bot
        self.fake = fake
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def core(self) -> Any:
        assert self.bot.core is not None
        return self.bot.core

    def feed(self, payload: dict[str, Any]) -> None:
        """Deliver an INTERACTION_CREATE exactly as the gateway would.

        A click on a component (or a form's submit) the bot does not hold yet is
        delivered once it does (or after a few seconds regardless): discord.py stores a
        reply's view or a form only after Discord answered the callback, and a member
        cannot use either before it is shown, while a test can."""
        self.fake.register_interaction(payload)
        if payload.get("type") in (3, 5) and not self._held(payload):
            task = asyncio.get_running_loop().create_task(self._feed_when_held(payload))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]

    def _held(self, payload: dict[str, Any]) -> bool:
        store = self.bot._connection._view_store
        custom_id = payload["data"]["custom_id"]
        if payload.get("type") == 5:
            return custom_id in store._modals
        if any(p.fullmatch(custom_id) for p in store._dynamic_items):
            return True
        return any(key[1] == custom_id for keys in store._views.values() for key in keys)

    async def _feed_when_held(self, payload: dict[str, Any], within: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not self._held(payload):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.01)
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]

    def dispatch(self, event: str, payload: dict[str, Any]) -> None:
        """Deliver a gateway event (MESSAGE_CREATE, MESSAGE_REACTION_ADD, GUILD_CREATE)."""
        if event == "MESSAGE_CREATE":
            self.fake.add_message(payload)
        parser = getattr(self.bot._connection, "parse_" + event.lower())
        parser(payload)

    async def wait_call(
        self,
        method: str,
        path_regex: str,
        check: Callable[[RecordedCall], bool] = lambda c: True,
        *,
        within: float = 30.0,  # a loaded machine is slow, never wrong
    ) -> RecordedCall:
        import re

        pattern = re.compile(path_regex)
        return await self.fake.wait_for(
            lambda c: c.method == method and bool(pattern.fullmatch(c.path)) and check(c),
            within,
        )

    async def settle(self) -> None:
        """Let every job task finish (used before asserting 'nothing else happened')."""
        tracker = self.core.tracker
        for _ in range(500):
            if tracker.running == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("jobs still running")


async def start_bot(settings: Settings, fake: FakeDiscord) -> Running:
    """Log in (runs setup_hook: core, cogs, sync) with fast retries and no edit throttle."""
    provider = ToapisClient(
        settings.toapis_base_url,
        settings.toapis_api_key or "",
        backoff_base=0.01,
        max_attempts=3,
        timeout=5,
        callback_url=settings.toapis_callback_url,
    )
    bot = SoraBot(settings, provider=provider)
    await bot.login(BOT_TOKEN)
    cog: Any = bot.get_cog("CharacterCog")
    cog.job_listener.min_interval = 0.0
    return Running(bot, fake)


@pytest_asyncio.fixture
async def sora(tmp_path: Path, fake_discord: FakeDiscord, simulator: Any) -> AsyncIterator[Running]:
    running = await start_bot(bot_settings(tmp_path, fake_discord, simulator), fake_discord)
    try:
        yield running
    finally:
        await running.bot.close()
