"""Building and running the Discord client (the only module of `bot/` that imports discord)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
from typing import Any

import aiohttp
import discord
import httpx
import yarl
from discord.ext import commands

from bot.http.server import ServiceServer
from bot.metrics import DiscordRateLimits
from bot.providers.interface import CharacterProvider
from bot.runtime.config import Settings
from bot.runtime.container import Core, open_core
from bot.runtime.heartbeat import Heartbeat
from bot.runtime.process_lock import LockBusy, ProcessLock
from bot.runtime.readings import CoreReadings
from bot.runtime.startup_checks import (
    Status,
    client,
    connect_cause,
    discord_base,
    discord_login,
    toapis_account,
)
from bot.stopping import cancel_and_wait, wait_until_done
from storage import StorageError, open_database
from storage.database import is_shared
from storage.sqlite.database import check_database_path
from storage.state import COMMANDS_HASH_KEY

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    # First: the tree's translator (descriptions in every catalogue's language).
    "cogs.languages",
    "cogs.errors",
    "cogs.character",
    "cogs.video",
    "cogs.settings",
    "cogs.reactions",
    "cogs.help",
    "cogs.owner",
    "cogs.housekeeping",
)


async def command_payloads(
    tree: discord.app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None
) -> list[dict[str, Any]]:
    """The commands as `tree.sync` sends them (translated when the tree has a translator)."""
    translator = tree.translator
    commands = tree.get_commands(guild=guild)
    if translator is None:
        return [c.to_dict(tree) for c in commands]
    return [await c.get_translated_payload(tree, translator) for c in commands]


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at a REST proxy / gateway other than Discord's (proxies, tests)."""
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class SoraBot(commands.Bot):
    """The bot: opens the core in `setup_hook`, closes it in `close`."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: CharacterProvider | None = None,
        message_content: bool = True,
        **options: Any,
    ) -> None:
        # The bot has no voice: no "PyNaCl / davey is not installed" warnings at start.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        intents = discord.Intents.default()
        # Privileged: needed to see other users' attachments (auto-reaction). Without it the
        # bot still runs; auto-reaction stays off.
        intents.message_content = message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            **options,
        )
        self.settings = settings
        self.core: Core | None = None
        self._provider = provider  # another provider (tests); toapis otherwise
        self._closing: asyncio.Future[None] | None = None
        self.heartbeat = Heartbeat(settings.heartbeat_path, settings.heartbeat_interval_seconds)
        self.service: ServiceServer | None = None  # webhooks, /health, /metrics (HTTP_PORT)
        http_log = logging.getLogger("discord.http")
        if not any(isinstance(f, DiscordRateLimits) for f in http_log.filters):
            http_log.addFilter(DiscordRateLimits())  # /metrics counts Discord's 429s

    async def on_ready(self) -> None:
        """Connected: the heartbeat file is touched from now on (Docker HEALTHCHECK)."""
        self.heartbeat.connected()

    async def on_resumed(self) -> None:
        """Reconnected: beat again."""
        self.heartbeat.connected()

    async def on_disconnect(self) -> None:
        """The gateway dropped: let the heartbeat go stale until it is back."""
        self.heartbeat.disconnected()

    async def setup_hook(self) -> None:
        """Open storage, resume jobs, load the feature extensions."""
        self.core = await open_core(self.settings, provider=self._provider)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.maybe_sync_commands()
        resumed = await self.core.tracker.start()
        log.info("core ready; %d job(s) resumed", len(resumed))
        if self.settings.http_port is not None:
            self.service = ServiceServer(
                CoreReadings(self.core),
                self.core.webhook_events,
                self.core.tracker,
                host=self.settings.http_host,
                port=self.settings.http_port,
                secrets=self.settings.webhook_secrets,
                discord=self.discord_health,
            )
            await self.service.start()

    async def discord_health(self) -> tuple[bool, str]:
        """Whether the gateway connection is up (for `/health`)."""
        if self.is_closed():
            return False, "closed"
        if not self.is_ready() or self.ws is None or not self.ws.open:
            return False, "not connected"
        return True, "connected"

    async def maybe_sync_commands(self) -> bool:
        """Sync slash commands if this process runs shard 0 (one process syncs for all)."""
        if not self.settings.syncs_commands:
            log.info("slash commands are synced by the process running shard 0")
            return False
        return await self.sync_commands()

    async def sync_commands(self) -> bool:
        """Sync slash commands only when they changed since the last sync (hash in the DB).

        Discord limits command creation per day, so restarts must not re-sync for nothing.
        """
        assert self.core is not None
        guild = discord.Object(self.settings.dev_guild_id) if self.settings.dev_guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        targets = [guild]
        owner_guild = self.settings.owner_guild_id
        if owner_guild and owner_guild != self.settings.dev_guild_id:
            targets.append(discord.Object(owner_guild))  # the owner commands live there
        # With their translations: a changed catalogue is a change to sync.
        commands_json = {
            str(target.id if target else "global"): await command_payloads(self.tree, target)
            for target in targets
        }
        digest = hashlib.sha256(
            json.dumps(
                {"guild": self.settings.dev_guild_id, "commands": commands_json},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        if await self.core.state.get(COMMANDS_HASH_KEY) == digest:
            log.info("slash commands unchanged; not syncing")
            return False
        for target in targets:
            synced = await self.tree.sync(guild=target)
            log.info(
                "synced %d slash command(s)%s",
                len(synced),
                f" to guild {target.id}" if target else " globally",
            )
        await self.core.state.set(COMMANDS_HASH_KEY, digest)
        return True

    async def close(self) -> None:
        """Close Discord first, then the core (jobs resume on the next start).

        Safe to call more than once and from several places at a time (signal handler,
        `async with`): the first call does the work, later ones wait for it.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close_once())
        await asyncio.shield(self._closing)

    async def _close_once(self) -> None:
        await self.heartbeat.stop()
        if self.service is not None:
            await self.service.stop()
        if self.core is not None:
            self.core.tracker.begin_stop()  # create requests in flight get 7 s from now
        await super().close()
        core, self.core = self.core, None
        if core is not None:
            await core.close()


class ShardedSoraBot(SoraBot, commands.AutoShardedBot):
    """The bot over discord.py's AutoShardedClient: the shards `SHARD_IDS` of
    `SHARD_COUNT` in this process (other processes run the others)."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: CharacterProvider | None = None,
        message_content: bool = True,
    ) -> None:
        super().__init__(
            settings,
            provider=provider,
            message_content=message_content,
            shard_count=settings.shard_count,
            shard_ids=settings.shard_id_list,
        )

    async def discord_health(self) -> tuple[bool, str]:
        """Whether every shard of this process is connected (for `/health`)."""
        if self.is_closed():
            return False, "closed"
        down = sorted(i for i, shard in self.shards.items() if shard.is_closed())
        if not self.is_ready() or down or not self.shards:
            return False, f"shards not connected: {down}" if down else "not connected"
        return True, f"{len(self.shards)} shard(s) connected"


def make_bot(
    settings: Settings,
    *,
    provider: CharacterProvider | None = None,
    message_content: bool = True,
) -> SoraBot:
    """The bot for these settings: sharded when `SHARD_COUNT` is set."""
    kind = ShardedSoraBot if settings.sharded else SoraBot
    return kind(settings, provider=provider, message_content=message_content)


async def _run(settings: Settings) -> int:
    apply_endpoints(settings)
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    try:
        # Fail fast, before connecting anywhere: unwritable folder, foreign database...
        target, size = settings.database_target, settings.database_pool_size
        await (await open_database(target, pool_size=size)).close()
    except StorageError as exc:
        log.error("%s", exc)
        return 1
    async with client() as http:  # Discord must take the token; toapis may come later
        login, _ = await discord_login(settings, http)
        if login.status is Status.FAIL:
            log.error("%s", login.sentence())
            return 1
        toapis = asyncio.ensure_future(_warn_about_toapis(settings, http))
        try:
            return await _connect(settings, token)
        finally:
            await cancel_and_wait(toapis)


async def _warn_about_toapis(settings: Settings, http: httpx.AsyncClient) -> None:
    """One warning line when toapis is unreachable, refuses the key or shows no credit
    (not fatal)."""
    check = await toapis_account(settings, http)
    if check.status is not Status.OK:
        log.warning("%s; the bot runs, jobs wait for toapis", check.sentence())


async def _connect(settings: Settings, token: str) -> int:
    """Log in and serve until closed; one line and exit code 1 when Discord fails us."""
    try:
        try:
            await _serve(make_bot(settings), token)
        except discord.PrivilegedIntentsRequired:
            log.warning(
                "the Message Content intent is not enabled for this bot in the Discord "
                "developer portal: running without it, auto-reaction stays off (see README)"
            )
            await _serve(make_bot(settings, message_content=False), token)
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check it in the developer portal")
        return 1
    except (aiohttp.ClientError, discord.GatewayNotFound) as exc:
        log.error("cannot reach Discord at %s: %s", discord_base(settings), connect_cause(exc))
        return 1
    except StorageError as exc:
        log.error("%s", exc)
        return 1
    return 0


async def _serve(bot: SoraBot, token: str) -> None:
    """Run `bot` until it is closed; SIGTERM/SIGINT close it cleanly and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with bot:
            running = asyncio.ensure_future(bot.start(token))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if running.done():
                running.result()  # re-raise LoginFailure, PrivilegedIntentsRequired, ...
            else:
                log.info("stopping: closing Discord, the toapis client and the database")
                await bot.close()
                await wait_until_done(running)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def run(settings: Settings) -> int:
    """Run the bot until it is closed (SIGTERM/SIGINT); returns the exit code.

    One bot per SQLite file: the lock is taken before anything touches the database or
    Discord, and the kernel drops it however the process ends (SIGKILL included).
    Several processes share a PostgreSQL database by design: no lock there.
    """
    if is_shared(settings.database_target):  # several processes share it by design
        return asyncio.run(_run(settings))
    try:
        check_database_path(settings.database_path)  # clear words for an unusable folder
        lock = ProcessLock.acquire(settings.database_path)
    except (LockBusy, StorageError) as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot lock the database at %s: %s", settings.database_path, exc)
        return 1
    with lock:
        return asyncio.run(_run(settings))
