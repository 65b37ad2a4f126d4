"""`/character create` and `/character list`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.orders import AttachmentInfo, CreateOrder, OrderError, plan_order, resolve
from bot.provider import MODELS
from cogs.character._listener import DiscordJobListener
from cogs.character._render import Rendered, progress_bar
from cogs.character._views import PAGE_SIZE, ListPager, render_list_page
from storage.models import Character

if TYPE_CHECKING:
    from bot.app import SoraBot
    from bot.core import Core

log = logging.getLogger(__name__)

GUILD_ONLY = "Characters belong to a server: use this command in a server, not in DMs."
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
        self.job_listener = DiscordJobListener(bot, self.core.characters)

    @property
    def core(self) -> Core:
        """The core services (opened before extensions load)."""
        assert self.bot.core is not None
        return self.bot.core

    async def cog_load(self) -> None:
        """Start hearing about jobs."""
        self.core.listeners.add(self.job_listener)

    async def cog_unload(self) -> None:
        """Stop hearing about jobs."""
        if self.bot.core is not None:
            self.bot.core.listeners.remove(self.job_listener)
        await self.job_listener.close()

    @character.command(name="create", description="Create a Sora character from 1-3 s of a video")
    @app_commands.describe(
        start="Where the moment starts: seconds (1.5) or minutes:seconds (0:12)",
        end="Where it ends: 1 to 3 seconds after start",
        video="A video file with sound (MP4, MOV or WebM)",
        url="A direct link to a video file with sound",
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
        """Check the input, defer, submit; the listener shows the rest."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        settings = self.core.settings
        try:
            order = plan_order(
                video=_attachment_info(video) if video else None,
                url=url,
                from_task=from_task,
                start=start,
                end=end,
                model=model.value if model else None,
                allow_private=settings.allow_private_urls,
            )
        except OrderError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        try:
            order = await resolve(order, allow_private=settings.allow_private_urls)
        except OrderError as exc:
            await interaction.delete_original_response()
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        reply = await interaction.edit_original_response(embeds=_sending(order).embeds)
        new = order.new_job(
            guild_id=interaction.guild_id,
            channel_id=reply.channel.id,
            message_id=reply.id,
            requester_id=interaction.user.id,
            provider=self.core.provider.name,
        )
        job = await self.core.tracker.submit(new, order.request())
        log.info(
            "job %d submitted by %d in guild %d (task %s)",
            job.id,
            interaction.user.id,
            interaction.guild_id,
            job.task_id,
        )

    @character.command(name="list", description="Show this server's characters, newest first")
    async def list_characters(self, interaction: discord.Interaction) -> None:
        """A paged list, only visible to the person who asked."""
        guild_id = interaction.guild_id
        if guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        repo = self.core.characters

        async def load(page: int) -> tuple[list[Character], int]:
            total = await repo.count_for_guild(guild_id)
            rows = await repo.list_for_guild(guild_id, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
            return rows, total

        rows, total = await load(0)
        name = interaction.guild.name if interaction.guild else "this server"
        view = ListPager(interaction.user.id, name, load, total)
        await interaction.response.send_message(
            embed=render_list_page(name, rows, 0, total), view=view, ephemeral=True
        )


def _attachment_info(video: discord.Attachment) -> AttachmentInfo:
    return AttachmentInfo(
        url=video.url,
        filename=video.filename,
        size=video.size,
        content_type=video.content_type,
    )


def _sending(order: CreateOrder) -> Rendered:
    embed = discord.Embed(
        title="Creating a Sora character",
        description=f"{progress_bar(0)}\nSending the request to toapis…",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Source", value=_source_line(order), inline=False)
    embed.add_field(name="Range", value=str(order.clip), inline=True)
    embed.add_field(name="Model", value=order.model, inline=True)
    return Rendered(embeds=[embed])


def _source_line(order: CreateOrder) -> str:
    text = discord.utils.escape_markdown(order.reference)
    return text if len(text) <= 200 else text[:199] + "…"
