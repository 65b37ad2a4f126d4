"""`/character create` and `/character list`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.orders import OrderError
from bot.providers.base import MODELS
from bot.records import Character
from cogs.character._buttons import DYNAMIC_ITEMS
from cogs.character._flow import (
    GUILD_ONLY,
    CreateFlow,
    SourceSpec,
    attachment_info,
    source_from_message,
)
from cogs.character._library import Library
from cogs.character._listener import DiscordJobListener
from cogs.character._modals import CreateModal, clean_name
from cogs.character._views import PAGE_SIZE, ListPager, render_list_page
from cogs.character._writes import DiscordWrites

if TYPE_CHECKING:
    from bot.app import SoraBot
    from bot.core import Core

log = logging.getLogger(__name__)

MODEL_CHOICES = [
    app_commands.Choice(name="sora-2 (standard, default)", value="sora-2"),
    app_commands.Choice(name="sora-2-pro (higher quality)", value="sora-2-pro"),
    app_commands.Choice(name="sora-2-vip (higher priority)", value="sora-2-vip"),
]
assert [c.value for c in MODEL_CHOICES] == list(MODELS)


class CharacterCog(commands.Cog):
    """Creating and browsing this server's Sora characters."""

    character = app_commands.Group(
        name="character", description="Create and browse Sora characters"
    )

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        writes = DiscordWrites(self.core.settings.discord_writes_per_second)
        self.flow = CreateFlow(bot, writes)
        self.job_listener = DiscordJobListener(
            bot, self.core.characters, replies=self.flow.replies, writes=writes
        )
        self.library = Library(self.flow)
        self.context_menu = app_commands.ContextMenu(
            name="Create Sora character", callback=self.create_from_message
        )

    @property
    def core(self) -> Core:
        """The core services (opened before extensions load)."""
        assert self.bot.core is not None
        return self.bot.core

    async def cog_load(self) -> None:
        """Start hearing about jobs; register the menu and the restart-proof buttons."""
        self.core.listeners.add(self.job_listener)
        self.bot.tree.add_command(self.context_menu)
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        """Stop hearing about jobs."""
        self.bot.tree.remove_command(self.context_menu.name, type=self.context_menu.type)
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        if self.bot.core is not None:
            self.bot.core.listeners.remove(self.job_listener)
        await self.job_listener.close()

    @character.command(name="create", description="Create a Sora character from 1-3 s of a video")
    @app_commands.describe(
        start="Where the moment starts: seconds (1.5) or minutes:seconds (0:12)",
        end="Where it ends: 1 to 3 seconds after start",
        video="A video file with sound (MP4, MOV or WebM)",
        url="A link to a video file, or to a page with one video (YouTube, TikTok, X...)",
        from_task="The id of an earlier toapis task whose video holds the character",
        model="Which Sora model extracts the character (default sora-2)",
    )
    @app_commands.choices(model=MODEL_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        start: app_commands.Range[str, 1, 20],
        end: app_commands.Range[str, 1, 20],
        video: discord.Attachment | None = None,
        url: app_commands.Range[str, 1, 2048] | None = None,
        from_task: app_commands.Range[str, 1, 100] | None = None,
        model: app_commands.Choice[str] | None = None,
    ) -> None:
        """Check the input, then the shared create flow."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        source = SourceSpec(
            video=attachment_info(video) if video else None, url=url, from_task=from_task
        )
        try:
            order = source.order(self.core, start, end, model.value if model else None)
        except OrderError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        await self.flow.run(interaction, order)

    async def create_from_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Context menu: open the range form for the message's video."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        source = source_from_message(message)
        if source is None:
            await interaction.response.send_message(
                "That message has no video: it needs a video attachment or a link to one.",
                ephemeral=True,
            )
            return
        await interaction.response.send_modal(CreateModal(self.flow, source))

    @character.command(name="show", description="Show a character's card")
    @app_commands.describe(name="The character's name or @username")
    async def show(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        """Post the card."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        await self.library.by_name(interaction, name, self.library.show)

    @character.command(name="rename", description="Rename a character in this bot's library")
    @app_commands.describe(
        name="The character's name or @username", new_name="The new display name"
    )
    async def rename(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        new_name: app_commands.Range[str, 1, 200],
    ) -> None:
        """Rename (creator or Manage Server)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        try:
            cleaned = clean_name(new_name)
        except ValueError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return

        async def rename(chosen: discord.Interaction, character_id: str) -> None:
            await self.library.rename(chosen, character_id, cleaned)

        await self.library.by_name(interaction, name, rename)

    @character.command(name="delete", description="Delete a character from this bot's library")
    @app_commands.describe(name="The character's name or @username")
    async def delete(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        """Delete after confirmation (creator or Manage Server)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        await self.library.by_name(interaction, name, self.library.confirm_delete)

    @show.autocomplete("name")
    @rename.autocomplete("name")
    @delete.autocomplete("name")
    async def name_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Up to 25 of this server's characters: prefix matches first, then substrings."""
        if interaction.guild_id is None:
            return []
        found = await self.core.characters.search(interaction.guild_id, current[:100], limit=25)
        return [app_commands.Choice(name=_choice_label(c), value=c.character_id) for c in found]

    @character.command(name="list", description="Show this server's characters, newest first")
    @app_commands.describe(
        mine="Only the characters you created", creator="Only the characters this member created"
    )
    async def list_characters(
        self,
        interaction: discord.Interaction,
        mine: bool = False,
        creator: discord.User | None = None,
    ) -> None:
        """A paged list, only visible to the person who asked."""
        guild_id = interaction.guild_id
        if guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        repo = self.core.characters
        creator_id = interaction.user.id if mine else (creator.id if creator else None)

        async def load(page: int) -> tuple[list[Character], int]:
            total = await repo.count_for_guild(guild_id, creator_id=creator_id)
            rows = await repo.list_for_guild(
                guild_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE, creator_id=creator_id
            )
            return rows, total

        rows, total = await load(0)
        name = interaction.guild.name if interaction.guild else "this server"
        view = ListPager(interaction.user.id, name, load, total)
        await interaction.response.send_message(
            embed=render_list_page(name, rows, 0, total), view=view, ephemeral=True
        )


def _choice_label(character: Character) -> str:
    label = f"{character.display_name} (@{character.username})"
    return label if len(label) <= 100 else label[:99] + "…"
