"""Interaction tokens of job replies, kept in memory only while they are valid.

An interaction token can edit its reply for 15 minutes, even in a channel the bot cannot
read; the bot token works after that (and after a restart) where the bot has access.
Tokens are never stored or logged: this map lives and dies with the process.
Also what every job reply starts from: the reply's id, the answer outside a server, and
a refusal given privately.
"""

from __future__ import annotations

import datetime
import logging

import discord

from bot.i18n import N_

log = logging.getLogger(__name__)

# Stop using a token a little before Discord does, so an edit never races its expiry.
MARGIN = datetime.timedelta(seconds=60)

GUILD_ONLY = N_("Characters belong to a server: use this in a server, not in DMs.")


async def original_reply_id(interaction: discord.Interaction) -> int | None:
    """The id of the deferred reply, so that a restart can still edit it (None if unknown)."""
    try:
        return (await interaction.original_response()).id
    except discord.HTTPException:
        return None


async def refuse_privately(interaction: discord.Interaction, text: str) -> None:
    """Answer privately: in place of the public "thinking…" reply once there is one. A
    reply a moderator deleted meanwhile takes the followup with it: then by direct
    message, so the member still reads why."""
    if not interaction.response.is_done():
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
        return
    try:
        await interaction.delete_original_response()
    except discord.NotFound:
        log.info("the reply to refuse was deleted already")
    try:
        await interaction.followup.send(text, ephemeral=True)
    except discord.NotFound:
        try:
            await interaction.user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("could not tell %d why: %s", interaction.user.id, exc)


class InteractionReplies:
    """reply message id -> (the interaction that made it, when to stop using it)."""

    def __init__(self) -> None:
        self._by_message: dict[int, tuple[discord.Interaction, datetime.datetime]] = {}

    def remember(self, message_id: int, interaction: discord.Interaction) -> None:
        """`message_id` is `interaction`'s reply: edit it with the token while it is valid."""
        self._prune()
        self._by_message[message_id] = (interaction, interaction.expires_at - MARGIN)

    def get(self, message_id: int) -> discord.Interaction | None:
        """The interaction whose token may still edit `message_id`, if any."""
        entry = self._by_message.get(message_id)
        if entry is None:
            return None
        interaction, usable_until = entry
        if discord.utils.utcnow() >= usable_until:
            del self._by_message[message_id]
            return None
        return interaction

    def forget(self, message_id: int) -> None:
        """Stop using the token for `message_id` (it was refused, or the job is over)."""
        self._by_message.pop(message_id, None)

    def clear(self) -> None:
        """Drop every token."""
        self._by_message.clear()

    def __len__(self) -> int:
        return len(self._by_message)

    def __repr__(self) -> str:  # never show an interaction (its token) in a log line
        return f"<InteractionReplies {len(self._by_message)} reply(ies)>"

    def _prune(self) -> None:
        now = discord.utils.utcnow()
        for message_id, (_, usable_until) in list(self._by_message.items()):
            if now >= usable_until:
                del self._by_message[message_id]
