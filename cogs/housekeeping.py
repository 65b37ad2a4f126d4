"""Servers the bot joins and leaves: their data is kept while it is there, purged some days
after it leaves (restored if it comes back in time). The rules live in `bot.policy.retention`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands, tasks

if TYPE_CHECKING:
    from bot.policy.retention import DataLifecycle
    from bot.runtime.app import SoraBot

log = logging.getLogger(__name__)

PURGE_EVERY_HOURS = 1.0


class HousekeepingCog(commands.Cog):
    """Gateway events to the data lifecycle, and the periodic purge."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot

    @property
    def lifecycle(self) -> DataLifecycle | None:
        """The core's lifecycle service (None once the core is closed)."""
        return self.bot.core.lifecycle if self.bot.core is not None else None

    async def cog_load(self) -> None:
        """Purge now (at start), then every hour."""
        self.purge.start()

    async def cog_unload(self) -> None:
        """Stop purging."""
        self.purge.cancel()

    @tasks.loop(hours=PURGE_EVERY_HOURS)
    async def purge(self) -> None:
        """Delete servers left long enough ago, old finished jobs and old webhook events."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            return
        try:
            await lifecycle.purge()
        except Exception:
            log.exception("purge failed; trying again in %g hour(s)", PURGE_EVERY_HOURS)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """READY lists every server the bot is in: those we hold data for that are not
        listed removed the bot while it was offline (no GUILD_DELETE came)."""
        lifecycle = self.lifecycle
        if lifecycle is not None:
            await lifecycle.reconcile(guild.id for guild in self.bot.guilds)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added to a server (maybe back in time: its data is kept)."""
        if self.lifecycle is not None:
            await self.lifecycle.joined([guild.id])

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A server is back after an outage: the bot is still in it."""
        await self.on_guild_join(guild)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a server (not an outage: those are `unavailable`)."""
        if self.lifecycle is not None:
            await self.lifecycle.left(guild.id)


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(HousekeepingCog(bot))
