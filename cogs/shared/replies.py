"""Interaction tokens of job replies, kept in memory only while they are valid.

An interaction token can edit its reply for 15 minutes, even in a channel the bot cannot
read; the bot token works after that (and after a restart) where the bot has access.
Tokens are never stored or logged: this map lives and dies with the process.
Also what every job reply starts from: the reply's id, the answer outside a server, a
refusal given privately, and the first look of a job (`show_job`).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import replace

import aiohttp
import discord

from bot.domain.records import Job
from bot.i18n import N_, translate
from cogs.shared.render import Rendered

log = logging.getLogger(__name__)

# Stop using a token a little before Discord does, so an edit never races its expiry.
MARGIN = datetime.timedelta(seconds=60)

MOVED = N_("{mention}: your job goes on in this message (its first reply could not be used).")
TOKEN_REFUSED = (10015, 50027)  # Unknown Webhook, Invalid Webhook Token: the token is dead
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


async def show_job(
    client: discord.Client,
    interaction: discord.Interaction,
    rendered: Rendered,
    job: Job,
    replies: InteractionReplies,
) -> tuple[int, int]:
    """Show `job`, about to be sent, in the interaction's reply (`job.message_id`, when it
    was known as the job was stored); where it is shown.

    The job goes on even when Discord refuses that edit (a moderator deleted the reply, the
    token expired while the video waited for a media worker, errors after discord.py's own
    retries): the reply is edited with the bot's token, or kept as it is while Discord
    fails (the next edit shows the job), or, once the reply is gone, the job is shown in a
    new message in the channel that tells the member why (by DM when the channel is closed
    to the bot). Raises only when it can be shown nowhere.
    """
    try:
        reply = await interaction.edit_original_response(
            **rendered.body(edit=True), attachments=rendered.files()
        )
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        job_id, reply_id = job.id, job.message_id
        dead = isinstance(exc, discord.HTTPException) and exc.code in TOKEN_REFUSED
        gone = isinstance(exc, discord.NotFound) and not dead  # the reply was deleted
        status = getattr(exc, "status", type(exc).__name__)
        log.info("job %d: its reply refused the first edit (%s)", job_id, status)
        if reply_id is None and not gone and not dead:
            reply_id = await original_reply_id(interaction)
        where = await _show_elsewhere(client, interaction, rendered, job_id, reply_id, gone)
        if where is None:
            raise
        if where[1] == reply_id and not dead:  # the token works again once Discord does
            replies.remember(reply_id, interaction)
        return where
    replies.remember(reply.id, interaction)
    return (reply.channel.id, reply.id)


async def _show_elsewhere(
    client: discord.Client,
    interaction: discord.Interaction,
    rendered: Rendered,
    job_id: int,
    reply_id: int | None,
    gone: bool,
) -> tuple[int, int] | None:
    """The reply edited with the bot's token, the reply kept as it is (Discord failing,
    or a channel only the token may write in), or a new message (None: none of them)."""
    channel_id = interaction.channel_id
    if channel_id is None:
        return None
    channel = client.get_partial_messageable(channel_id)
    if reply_id is not None:
        try:
            await channel.get_partial_message(reply_id).edit(
                **rendered.body(edit=True), attachments=rendered.files()
            )
            return (channel_id, reply_id)
        except discord.NotFound:
            gone = True  # deleted by a moderator
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            if not gone:  # the reply is there: later edits show the job
                log.warning("job %d: reply kept as it is for now (%s)", job_id, exc)
                return (channel_id, reply_id)
    # The reply is gone (or was never known): a new message shows the job.
    mention = interaction.user.mention
    note = translate(interaction.locale.value, MOVED, mention=mention)
    said = replace(rendered, content=f"{note}\n{rendered.content or ''}".rstrip())
    try:
        message = await channel.send(
            **said.body(),
            files=said.files(),
            allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
            nonce=f"sora-s{job_id}",  # a send Discord answered 500 after all is not doubled
        )
    except (discord.Forbidden, discord.NotFound):  # a channel closed to the bot: a DM
        try:
            message = await interaction.user.send(
                **said.body(), files=said.files(), nonce=f"sora-s{job_id}"
            )
        except discord.HTTPException as exc:
            log.warning("job %d could not be shown anywhere (HTTP %s)", job_id, exc.status)
            return None
    except discord.HTTPException as exc:
        log.warning("job %d could not be shown anywhere (HTTP %s)", job_id, exc.status)
        return None
    return (message.channel.id, message.id)
