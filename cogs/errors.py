"""The one error handler: every app-command error becomes a short ephemeral message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.providers.base import ProviderError

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot

log = logging.getLogger(__name__)

GENERIC = "Something went wrong on our side. It has been logged; please try again."


def message_for(error: app_commands.AppCommandError) -> str:
    """What to tell the user about `error`."""
    original = getattr(error, "original", error)
    if isinstance(original, ProviderError):
        return original.user_message
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        return "You don't have permission to do that here."
    if isinstance(error, app_commands.TransformerError):
        return f"`{error.value}` is not valid there."
    if isinstance(original, discord.Forbidden):
        return "I don't have permission to do that in this channel."
    return GENERIC


class ErrorHandler(commands.Cog):
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
        await tell_user(interaction, message_for(error), getattr(error, "original", error))


async def report_failure(interaction: discord.Interaction, error: Exception) -> None:
    """For modals, views and buttons (outside the command tree): the same treatment."""
    if isinstance(error, ProviderError):
        text = error.user_message
    elif isinstance(error, discord.Forbidden):
        text = "I don't have permission to do that in this channel."
    else:
        text = GENERIC
    await tell_user(interaction, text, error)


async def tell_user(interaction: discord.Interaction, text: str, error: BaseException) -> None:
    """Log what was unexpected, remove a hanging "thinking…" reply, answer privately."""
    if text == GENERIC:
        name = interaction.command.qualified_name if interaction.command else "component"
        log.error("%s failed", name, exc_info=error)
    try:
        deferred = discord.InteractionResponseType.deferred_channel_message
        if interaction.response.type == deferred:
            # A "thinking…" placeholder would hang there forever: remove it.
            await interaction.delete_original_response()
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not report an error to the user: %s", exc)


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(ErrorHandler(bot))
