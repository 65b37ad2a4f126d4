"""Auto-reaction: react to new videos; a click on the reaction offers the create flow.

A message carries a video when it has a video attachment, or a link whose path ends in a
video file name or that yt-dlp has a specific (non-generic) extractor for; any other link
(a Google Docs link, a plain page) gets no reaction.

A reaction is not an interaction, so the bot answers a click with a short public reply
that mentions the person and carries a "Create character" button; the button opens the
same range form as the context menu.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.media.links import is_video_file_name, is_video_link
from bot.media.orders import find_links
from cogs.shared.handoffs import CHARACTERS, CREATE_CHARACTER, CreateFromMessageButton
from cogs.shared.i18n import tr_guild

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot

log = logging.getLogger(__name__)

EMOJI = "🎭"
ANSWERED_MEMORY = 10_000
MAX_LINKS = 5  # links looked at per message


async def carries_video(message: discord.Message) -> bool:
    """A video attachment, or a link to a video file or to a page yt-dlp knows."""
    for attached in message.attachments:
        if (attached.content_type or "").startswith("video/") or is_video_file_name(
            attached.filename
        ):
            return True
    links = find_links(message.content)[:MAX_LINKS]
    for link in links:
        # yt-dlp's URL patterns are compiled on first use: keep that off the event loop.
        if await asyncio.to_thread(is_video_link, link):
            return True
    return False


class AutoReactCog(commands.Cog):
    """Reacts to videos and answers clicks on the reaction."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        # (message, user) pairs already answered: a toggled reaction is not a new request.
        self._answered: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.messages_checked = 0  # messages looked at (for tests and diagnostics)

    async def _enabled(self, guild_id: int | None) -> bool:
        if guild_id is None or self.bot.core is None or not self.bot.intents.message_content:
            return False
        return (await self.bot.core.guild_settings.get(guild_id)).auto_react

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """React to a new message carrying a video, where the server turned it on."""
        if message.author.bot or message.guild is None:
            return
        try:
            if await self._enabled(message.guild.id) and await carries_video(message):
                await message.add_reaction(EMOJI)
        except discord.HTTPException as exc:
            log.info("could not react in channel %d: %s", message.channel.id, exc)
        finally:
            self.messages_checked += 1

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """Someone clicked our reaction: reply with a button only they can use."""
        if str(payload.emoji) != EMOJI or payload.user_id == getattr(self.bot.user, "id", None):
            return
        if payload.member is not None and payload.member.bot:
            return
        if not await self._enabled(payload.guild_id):
            return
        key = (payload.message_id, payload.user_id)
        if key in self._answered:
            return
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        try:
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException:
            return
        ours = any(str(r.emoji) == EMOJI and r.me for r in message.reactions)
        if not ours or not CHARACTERS.get(self.bot).has_video(message):
            return  # only videos the bot offered, never any message someone reacts to
        self._answered[key] = None
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)
        view = discord.ui.View(timeout=None)
        guild = self.bot.get_guild(payload.guild_id) if payload.guild_id else None
        locale = guild.preferred_locale if guild is not None else None  # no one asked: the server's
        label = tr_guild(locale, CREATE_CHARACTER)
        view.add_item(
            CreateFromMessageButton(payload.channel_id, payload.message_id, payload.user_id, label)
        )
        reference = discord.MessageReference(
            message_id=payload.message_id,
            channel_id=payload.channel_id,
            fail_if_not_exists=False,
        )
        try:
            await channel.send(
                tr_guild(
                    locale,
                    "<@{user}> turn this video into a Sora character:",
                    user=payload.user_id,
                ),
                view=view,
                reference=reference,
                allowed_mentions=discord.AllowedMentions(users=True, replied_user=False),
            )
        except discord.HTTPException as exc:
            log.info("could not answer a reaction in channel %d: %s", payload.channel_id, exc)


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(AutoReactCog(bot))
