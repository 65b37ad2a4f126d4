"""`/character create` and `/character list`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.records import Character
from bot.i18n import N_
from bot.media.orders import OrderError
from bot.media.suggestions import Suggester
from bot.providers.base import MODELS
from cogs.character._buttons import DYNAMIC_ITEMS
from cogs.character._flow import (
    CreateFlow,
    SourceSpec,
    attachment_info,
    source_from_message,
)
from cogs.character._forget import ask_forget_me
from cogs.character._jobs import CancelButton, show_jobs
from cogs.character._library import Library
from cogs.character._listener import DiscordJobListener
from cogs.character._modals import CreateModal, clean_name
from cogs.character._registry import CHARACTER_COG
from cogs.character._suggest import SuggestFlow, SuggestionButton
from cogs.character._views import PAGE_SIZE, ListPager
from cogs.character._writes import DiscordWrites
from cogs.shared.handoffs import CHARACTERS
from cogs.shared.i18n import tr, tr_error
from cogs.shared.limits import refuse_if_limited
from cogs.shared.replies import GUILD_ONLY, InteractionReplies

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot
    from bot.runtime.container import Core

log = logging.getLogger(__name__)

MODEL_CHOICES = [
    app_commands.Choice(name="sora-2 (standard, default)", value="sora-2"),
    app_commands.Choice(name="sora-2-pro (higher quality)", value="sora-2-pro"),
    app_commands.Choice(name="sora-2-vip (higher priority)", value="sora-2-vip"),
]
assert [c.value for c in MODEL_CHOICES] == list(MODELS)
BOTH_OR_NEITHER = N_(
    "Give both `start` and `end`, or neither: then I suggest the best moment of the video."
)


class CharacterCog(commands.Cog):
    """Creating and browsing this server's Sora characters."""

    character = app_commands.Group(
        name="character",
        description="Create and browse this server's characters",
        guild_only=True,  # offered in servers only: a character belongs to one
        allowed_contexts=app_commands.AppCommandContext(guild=True),
    )

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        writes = DiscordWrites(self.core.settings.discord_writes_per_second, self.core.ledger)
        self.flow = CreateFlow(bot, writes)
        self.job_listener = DiscordJobListener(
            bot, self.core.characters, replies=self.flow.replies, writes=writes
        )
        self.library = Library(self.flow)
        self.suggest = SuggestFlow(self.flow, Suggester(self.core.intake))
        self._opinions: set[asyncio.Task[None]] = set()
        self.context_menu = app_commands.ContextMenu(
            name="Create Sora character",
            callback=self.create_from_message,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )

    @property
    def core(self) -> Core:
        """The core services (opened before extensions load)."""
        assert self.bot.core is not None
        return self.bot.core

    async def cog_load(self) -> None:
        """Start hearing about jobs; register the menu and the restart-proof buttons, and
        offer the forms to the buttons and the other cogs."""
        CHARACTER_COG.set(self.bot, self)
        CHARACTERS.set(self.bot, self)
        self.core.listeners.add(self.job_listener)
        self.bot.tree.add_command(self.context_menu)
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS, CancelButton, SuggestionButton)

    async def cog_unload(self) -> None:
        """Stop hearing about jobs."""
        CHARACTER_COG.clear(self.bot)
        CHARACTERS.clear(self.bot)
        self.bot.tree.remove_command(self.context_menu.name, type=self.context_menu.type)
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS, CancelButton, SuggestionButton)
        for task in list(self._opinions):
            task.cancel()
        if self.bot.core is not None:
            self.bot.core.listeners.remove(self.job_listener)
        await self.job_listener.close()

    @character.command(name="create", description="Create a Sora character from 1-3 s of a video")
    @app_commands.describe(
        start="Where the moment starts: 1.5 or 0:12 (leave start and end out: I suggest one)",
        end="Where it ends: 1 to 3 seconds after start (leave both out for a suggestion)",
        video="A video file with sound (MP4, MOV or WebM)",
        url="A link to a video file, or to a page with one video (YouTube, TikTok, X...)",
        from_task="The task id of a character or video made in this server",
        model="Which Sora model extracts the character (default: the server's, sora-2)",
        name="The character's name (default: Sora's, else \"<you>'s character N\")",
    )
    @app_commands.choices(model=MODEL_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        start: app_commands.Range[str, 1, 20] | None = None,
        end: app_commands.Range[str, 1, 20] | None = None,
        video: discord.Attachment | None = None,
        url: app_commands.Range[str, 1, 2048] | None = None,
        from_task: app_commands.Range[str, 1, 100] | None = None,
        model: app_commands.Choice[str] | None = None,
        name: app_commands.Range[str, 1, 80] | None = None,
    ) -> None:
        """Check the input, then the shared create flow (or the suggestion, with no range)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        try:
            chosen_name = clean_name(name, interaction.locale.value) if name is not None else None
        except ValueError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        source = SourceSpec(
            video=attachment_info(video) if video else None,
            url=url,
            from_task=from_task,
            meta={"chosen_name": chosen_name} if chosen_name else None,
        )
        if model is None:  # the server's default model
            chosen = (await self.core.guild_settings.get(interaction.guild_id)).default_model
        else:
            chosen = model.value
        if start is None and end is None:
            await self.suggest.start(interaction, source, chosen)
            return
        if start is None or end is None:
            await interaction.response.send_message(
                tr(interaction, BOTH_OR_NEITHER), ephemeral=True
            )
            return
        try:
            order = source.order(self.core, start, end, chosen)
        except OrderError as exc:
            await interaction.response.send_message(tr_error(interaction, exc), ephemeral=True)
            return
        await self.flow.run(interaction, order, source.meta)
        # The analysis runs once the job is sent, and only speaks up when it disagrees.
        task = asyncio.create_task(self.suggest.second_opinion(interaction, order))
        self._opinions.add(task)
        task.add_done_callback(self._opinions.discard)

    async def create_from_message(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Context menu: open the range form for the message's video."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        source = source_from_message(message)
        if source is None:
            await interaction.response.send_message(
                tr(
                    interaction,
                    "That message has no video: it needs a video attachment or a link to one.",
                ),
                ephemeral=True,
            )
            return
        if await refuse_if_limited(self.core, interaction):
            return
        await interaction.response.send_modal(
            CreateModal(
                self.flow,
                source,
                model=await self.default_model(interaction.guild_id),
                locale=interaction.locale.value,
            )
        )

    @property
    def replies(self) -> InteractionReplies:
        """The interaction tokens of job replies (the create flow's and the listener's)."""
        return self.flow.replies

    def has_video(self, message: discord.Message) -> bool:
        """Whether a character can be made from the message's video (file or link)."""
        return source_from_message(message) is not None

    async def open_form_for_message(
        self, interaction: discord.Interaction, channel_id: int, message_id: int
    ) -> None:
        """The range form for a message's video (the reaction's button)."""
        await self.library.create_from_message(interaction, channel_id, message_id)

    async def open_form_for_task(
        self, interaction: discord.Interaction, task_id: str, model: str
    ) -> None:
        """The range form for an earlier task of this server ("Make a character from this")."""
        await interaction.response.send_modal(
            CreateModal(
                self.flow,
                SourceSpec(from_task=task_id),
                model=model,
                locale=interaction.locale.value,
            )
        )

    async def default_model(self, guild_id: int) -> str:
        """The model a server uses when a member names none."""
        return (await self.core.guild_settings.get(guild_id)).default_model

    @character.command(name="show", description="Show a character's card")
    @app_commands.describe(name="The character's name or @username")
    async def show(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        """Post the card."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
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
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        try:
            cleaned = clean_name(new_name, interaction.locale.value)
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
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        await self.library.by_name(interaction, name, self.library.confirm_delete)

    @character.command(
        name="forget-me", description="Delete what this bot keeps about you in this server"
    )
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Ask privately, then forget the member (characters kept unattributed or deleted)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        await ask_forget_me(self.core, interaction)

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

    @character.command(
        name="jobs", description="Your jobs in flight (the server's for admins), with Cancel"
    )
    async def jobs(self, interaction: discord.Interaction) -> None:
        """Jobs preparing, waiting or running, each with a Cancel button (private)."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        await show_jobs(interaction)

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
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
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
        name = interaction.guild.name if interaction.guild else tr(interaction, "this server")
        view = ListPager(
            interaction.user.id,
            name,
            load,
            total,
            avatars=repo.avatars,
            locale=interaction.locale.value,
        )
        sheet = await view.show(rows)
        extra: dict[str, Any] = {"file": sheet} if sheet is not None else {}
        await interaction.response.send_message(view=view, ephemeral=True, **extra)


def _choice_label(character: Character) -> str:
    label = f"{character.display_name} (@{character.username})"
    return label if len(label) <= 100 else label[:99] + "…"
