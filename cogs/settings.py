"""`/settings`: per-server settings, for Manage Server members."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

if TYPE_CHECKING:
    from bot.app import SoraBot
    from bot.guild_settings import SettingsService

NEEDS_INTENT = (
    "Auto-reaction needs the **Message Content** intent, which this bot does not have right "
    "now. The bot owner can enable it in the Discord developer portal (Bot → Privileged "
    "Gateway Intents) and restart the bot; see the README."
)


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class Settings(commands.GroupCog, group_name="settings", group_description="Server settings"):
    """Settings that change how the bot behaves in this server."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        super().__init__()

    @property
    def service(self) -> SettingsService:
        """The per-guild settings service."""
        assert self.bot.core is not None
        return self.bot.core.guild_settings

    @app_commands.command(
        name="auto-react",
        description="React to new videos so members can turn them into characters in one click",
    )
    @app_commands.describe(enabled="On: react to new messages with a video. Off: don't.")
    async def auto_react(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Switch auto-reaction for this server."""
        assert interaction.guild_id is not None
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(
                "You need the Manage Server permission to change settings.", ephemeral=True
            )
            return
        if enabled and not self.bot.intents.message_content:
            await interaction.response.send_message(NEEDS_INTENT, ephemeral=True)
            return
        await self.service.set(interaction.guild_id, auto_react=enabled)
        text = (
            "Auto-reaction is **on**: I'll react with 🎭 to new videos; clicking it offers to "
            "create a character."
            if enabled
            else "Auto-reaction is **off**."
        )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(Settings(bot))
