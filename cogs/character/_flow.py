"""The create flow shared by the slash command, the context menu, the reaction button and
"Create from same video": defer, check the source, show the reply, submit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.orders import (
    AttachmentInfo,
    CreateOrder,
    OrderError,
    find_links,
    plan_order,
    resolve,
)
from cogs.character._render import Rendered, progress_bar

if TYPE_CHECKING:
    from bot.app import SoraBot
    from bot.core import Core

log = logging.getLogger(__name__)

GUILD_ONLY = "Characters belong to a server: use this in a server, not in DMs."


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source without a range yet: what the modal needs to build an order."""

    video: AttachmentInfo | None = None
    url: str | None = None
    from_task: str | None = None
    meta: dict[str, Any] | None = None

    def order(self, core: Core, start: str, end: str, model: str | None) -> CreateOrder:
        """Check the range and model against this source (no I/O)."""
        return plan_order(
            video=self.video,
            url=self.url,
            from_task=self.from_task,
            start=start,
            end=end,
            model=model,
            allow_private=core.settings.allow_private_urls,
        )


def attachment_info(video: discord.Attachment) -> AttachmentInfo:
    """What the core needs of a Discord attachment."""
    return AttachmentInfo(
        url=video.url, filename=video.filename, size=video.size, content_type=video.content_type
    )


def source_from_message(message: discord.Message) -> SourceSpec | None:
    """The first video attachment of a message, else its first link; None if neither."""
    for attached in message.attachments:
        content_type = attached.content_type or ""
        if content_type.startswith("video/") or attached.filename.lower().endswith(
            (".mp4", ".mov", ".webm", ".m4v")
        ):
            return SourceSpec(
                video=attachment_info(attached),
                meta={"channel_id": message.channel.id, "message_id": message.id},
            )
    for embed in message.embeds:
        if embed.video and embed.video.url and embed.url:
            return SourceSpec(url=embed.url)
    links = find_links(message.content)
    return SourceSpec(url=links[0]) if links else None


class CreateFlow:
    """Runs an order for an interaction that has not been answered yet."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot

    @property
    def core(self) -> Core:
        """The core services."""
        assert self.bot.core is not None
        return self.bot.core

    async def run(
        self,
        interaction: discord.Interaction,
        order: CreateOrder,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Defer, check the source (I/O), turn the reply into progress, submit."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        try:
            order = await resolve(order, allow_private=self.core.settings.allow_private_urls)
        except OrderError as exc:
            await interaction.delete_original_response()
            await interaction.followup.send(str(exc), ephemeral=True)
            return
        reply = await interaction.edit_original_response(embeds=sending(order).embeds)
        new = order.new_job(
            guild_id=interaction.guild_id,
            channel_id=reply.channel.id,
            message_id=reply.id,
            requester_id=interaction.user.id,
            provider=self.core.provider.name,
            meta={**(meta or {}), **_source_meta(order)},
        )
        job = await self.core.tracker.submit(new, order.request())
        log.info(
            "job %d submitted by %d in guild %d (task %s)",
            job.id,
            interaction.user.id,
            interaction.guild_id,
            job.task_id,
        )


def _source_meta(order: CreateOrder) -> dict[str, Any]:
    """What "Create from same video" needs to fetch the source again."""
    return {
        "source": {
            "kind": order.kind.value,
            "url": order.url,
            "from_task": order.from_task,
            "name": order.reference,
        }
    }


def sending(order: CreateOrder) -> Rendered:
    """The reply while the request is being sent."""
    embed = discord.Embed(
        title="Creating a Sora character",
        description=f"{progress_bar(0)}\nSending the request to toapis…",
        colour=discord.Colour.blurple(),
    )
    text = discord.utils.escape_markdown(order.reference)
    embed.add_field(
        name="Source", value=text if len(text) <= 200 else text[:199] + "…", inline=False
    )
    embed.add_field(name="Range", value=str(order.clip), inline=True)
    embed.add_field(name="Model", value=order.model, inline=True)
    return Rendered(embeds=[embed])
