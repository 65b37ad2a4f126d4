"""The one error handler: every app-command error becomes a short ephemeral message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.providers.base import ProviderError
from cogs.shared.failures import FORBIDDEN, GENERIC, tell_user
from cogs.shared.i18n import tr

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot


def message_for(interaction: discord.Interaction, error: app_commands.AppCommandError) -> str:
    """What to tell the user about `error`, in their language."""
    original = getattr(error, "original", error)
    if isinstance(original, ProviderError):
        return original.user_message  # built in the core: English
    if isinstance(error, app_commands.CommandOnCooldown):
        return tr(
            interaction, "Slow down: try again in {seconds} s.", seconds=round(error.retry_after)
        )
    if isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        return tr(interaction, "You don't have permission to do that here.")
    if isinstance(error, app_commands.TransformerError):
        return tr(interaction, "`{value}` is not valid there.", value=error.value)
    if isinstance(original, discord.Forbidden):
        return tr(interaction, FORBIDDEN)
    return tr(interaction, GENERIC)


class ErrorHandlerCog(commands.Cog):
    """Installs itself as the command tree's error handler."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        """Take over the tree's error handler."""
        self.bot.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def cog_unload(self) -> None:
        """Give the tree its handler back."""
        self.bot.tree.on_error = self._previous  # type: ignore[method-assign]

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Log unexpected errors; tell the user something short and useful."""
        original = getattr(error, "original", error)
        await tell_user(interaction, message_for(interaction, error), original)


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(ErrorHandlerCog(bot))
