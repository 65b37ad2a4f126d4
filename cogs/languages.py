"""The command tree's translator, loaded first: descriptions and choices are synced in
every language a catalogue has (bot/i18n/locales)."""

from __future__ import annotations

from discord.ext import commands

from cogs.shared.i18n import CommandTranslator


async def setup(bot: commands.Bot) -> None:
    """Set the translator (reads the catalogues) before setup_hook syncs the tree."""
    await bot.tree.set_translator(CommandTranslator())


async def teardown(bot: commands.Bot) -> None:
    """Unloaded: the tree speaks English only again."""
    await bot.tree.set_translator(None)
