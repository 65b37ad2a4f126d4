"""Failures outside the command tree (modals, views, buttons) and inside it: logged when
unexpected, a hanging "thinking…" reply removed, a short private answer."""

from __future__ import annotations

import logging

import discord

from bot.i18n import N_
from bot.providers.base import ProviderError
from cogs.shared.i18n import tr

log = logging.getLogger(__name__)

GENERIC = N_("Something went wrong on our side. It has been logged; please try again.")
FORBIDDEN = N_("I don't have permission to do that in this channel.")


async def report_failure(interaction: discord.Interaction, error: Exception) -> None:
    """For modals, views and buttons (outside the command tree): the same treatment."""
    if isinstance(error, ProviderError):
        text = error.user_message
    elif isinstance(error, discord.Forbidden):
        text = tr(interaction, FORBIDDEN)
    else:
        text = tr(interaction, GENERIC)
    await tell_user(interaction, text, error)


async def tell_user(interaction: discord.Interaction, text: str, error: BaseException) -> None:
    """Log what was unexpected, remove a hanging "thinking…" reply, answer privately."""
    if text == tr(interaction, GENERIC):
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
