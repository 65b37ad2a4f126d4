"""Shows jobs in Discord: live progress in the reply, then the card (or why it failed).

While the interaction that made the reply is less than 15 minutes old and this process
received it, edits use its token (a webhook edit, which works even in channels the bot
cannot read); the token lives in memory only (`InteractionReplies`). After that, after a
restart, or if the token is refused, edits go through the bot token
(`PATCH /channels/{c}/messages/{m}`); where that is refused too, the requester gets a DM.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Protocol

import discord

from bot import metrics
from bot.domain.records import Character, Job, JobKind, JobState
from bot.i18n import N_, translate
from bot.jobs.submit_line import Place
from cogs.character._buttons import card_view, retry_view
from cogs.character._render import (
    offers_likeness,
    render_card,
    render_failure,
    render_in_line,
    render_ping,
    render_progress,
    render_unknown,
)
from cogs.character._updater import MessageUpdater
from cogs.character._writes import DiscordWrites
from cogs.shared.handoffs import VIDEOS
from cogs.shared.render import Rendered, job_locale
from cogs.shared.replies import InteractionReplies

log = logging.getLogger(__name__)

DM_INTRO = N_("I couldn't post in the channel where you asked, so here it is:")
MENTION_REQUESTER = discord.AllowedMentions(everyone=False, roles=False, users=True)


class JobCharacters(Protocol):
    """The characters a job made (the core's character repository)."""

    async def for_job(self, job_id: int) -> list[Character]:
        """Every character stored for a job, oldest first."""
        ...


class DiscordJobListener:
    """The tracker's listener for jobs that have a Discord reply."""

    def __init__(
        self,
        client: discord.Client,
        characters: JobCharacters,
        *,
        min_interval: float = 3.0,
        replies: InteractionReplies | None = None,
        writes: DiscordWrites | None = None,
    ) -> None:
        self.client = client
        self.writes = writes if writes is not None else DiscordWrites()
        self.characters = characters
        self.min_interval = min_interval
        self.replies = replies if replies is not None else InteractionReplies()
        self._updaters: dict[int, MessageUpdater] = {}

    def _updater(self, job: Job) -> MessageUpdater:
        updater = self._updaters.get(job.id)
        if updater is None:
            channel_id, message_id = job.channel_id, job.message_id
            assert channel_id is not None and message_id is not None

            async def edit(rendered: Rendered) -> None:
                await self._edit(channel_id, message_id, rendered)

            updater = self._updaters[job.id] = MessageUpdater(
                edit, min_interval=self.min_interval, gate=self.writes.wait
            )
        return updater

    async def _edit(self, channel_id: int, message_id: int, rendered: Rendered) -> None:
        interaction = self.replies.get(message_id)
        if interaction is not None:
            try:
                await self._edit_with_token(interaction, message_id, rendered)
                return
            except discord.HTTPException as exc:
                self.replies.forget(message_id)
                log.info(
                    "reply %d: interaction token refused (HTTP %s); using the bot token",
                    message_id,
                    exc.status,
                )
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        files = rendered.files()
        extra: dict[str, Any] = {"attachments": files} if files else {}
        await message.edit(**rendered.body(edit=True), allowed_mentions=MENTION_REQUESTER, **extra)

    @staticmethod
    async def _edit_with_token(
        interaction: discord.Interaction, message_id: int, rendered: Rendered
    ) -> None:
        files = rendered.files()
        extra: dict[str, Any] = {"attachments": files} if files else {}
        await interaction.followup.edit_message(
            message_id,
            **rendered.body(edit=True),
            allowed_mentions=MENTION_REQUESTER,
            **extra,
        )

    async def _send_with_token(self, job: Job, rendered: Rendered) -> bool:
        """Post `rendered` as a followup of the job's interaction, while its token is valid."""
        interaction = self.replies.get(job.message_id) if job.message_id else None
        if interaction is None:
            return False
        kwargs: dict[str, object] = {
            **rendered.body(),
            "files": rendered.files(),
            "allowed_mentions": MENTION_REQUESTER,
            "wait": True,
        }
        await self.writes.wait(True)
        try:
            await interaction.followup.send(**kwargs)  # type: ignore[call-overload]
        except discord.HTTPException as exc:
            log.info("job %d: followup refused (HTTP %s)", job.id, exc.status)
            return False
        return True

    async def _send(
        self,
        job: Job,
        rendered: Rendered,
        *,
        reply_to: int | None,
        nonce: str,
        dm_fallback: bool = True,
    ) -> bool:
        """Post a new message in the job's channel; DM the requester if that is refused.

        `nonce` is derived from what is announced, and discord.py sends it with
        `enforce_nonce`, so a retry after a crash cannot post the same message twice.
        """
        assert job.channel_id is not None
        channel = self.client.get_partial_messageable(job.channel_id)
        kwargs: dict[str, object] = {
            **rendered.body(),
            "files": rendered.files(),
            "allowed_mentions": MENTION_REQUESTER,
            "nonce": nonce,
        }
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=job.channel_id, fail_if_not_exists=False
            )
        await self.writes.wait(True)
        try:
            await channel.send(**kwargs)  # type: ignore[call-overload]
        except (discord.Forbidden, discord.NotFound):
            if await self._send_with_token(job, rendered):
                return True
            if dm_fallback:
                await self._direct_message(job, rendered)
            return False
        return True

    async def _direct_message(self, job: Job, rendered: Rendered) -> None:
        """The channel is closed to the bot: tell the requester privately instead."""
        log.info("job %d: cannot post in channel %s; sending a DM", job.id, job.channel_id)
        if not job.requester_id:
            return
        await self.writes.wait(True)
        try:
            user = self.client.get_user(job.requester_id) or await self.client.fetch_user(
                job.requester_id
            )
            told = replace(rendered, content=translate(job_locale(job), DM_INTRO))
            await user.send(**told.body(), files=told.files())
        except discord.HTTPException as exc:
            log.warning("job %d: could not DM the requester either: %s", job.id, exc)

    async def _final(self, job: Job, rendered: Rendered, *, nonce: str) -> bool:
        """Turn the reply into `rendered`; if the reply is gone, post it as a new message.

        Returns False when the channel was closed to the bot and the requester got a DM.
        The reply's updater is freed either way (a retry after a failure makes a new one).
        """
        try:
            await self._updater(job).send_now(rendered)
        except discord.NotFound:
            log.info("job %d: reply was deleted; posting a new message", job.id)
            return await self._send(job, rendered, reply_to=None, nonce=nonce)
        except discord.Forbidden:
            await self._direct_message(job, rendered)
            return False
        finally:
            await self._forget(job)
        return True

    def _engines(self) -> tuple[str, ...]:
        """The engines this bot binds characters to (CHARACTER_ENGINES)."""
        core = getattr(self.client, "core", None)
        return tuple(core.settings.engine_list) if core is not None else ()

    def _has_reply(self, job: Job) -> bool:
        """Whether the job has a reply to keep up to date (a cancelled one has not); a
        binding job's message is its character's card, changed only once it ends."""
        return (
            job.channel_id is not None
            and job.message_id is not None
            and not job.cancelled_at
            and job.kind is not JobKind.LIKENESS
        )

    async def job_changed(self, job: Job) -> None:
        """Show progress (throttled; only when something visible changed)."""
        if await self._still_shown(job) and not job.state.is_final:
            self._updater(job).push(render_progress(job))

    async def job_in_line(self, job: Job, place: Place) -> None:
        """Show the job's place in the bot's submit line (newest wins, throttled)."""
        if await self._still_shown(job) and job.state is JobState.WAITING:
            self._updater(job).push(render_in_line(job, place))

    async def job_stalled(self, job: Job) -> None:
        """Say it is still running at toapis."""
        if await self._still_shown(job):
            self._updater(job).push(render_progress(job))

    async def _still_shown(self, job: Job) -> bool:
        """Whether the reply shows this job; a cancelled job's updater is dropped."""
        if job.cancelled_at:
            await self._forget(job)
        return self._has_reply(job)

    async def character_ready(self, job: Job, character: Character) -> None:
        """The first card replaces the reply and pings the requester; more cards follow."""
        if not await self._still_shown(job):
            return
        metrics.CARDS_DELIVERED.inc()
        offer = offers_likeness(character, self._engines())
        card = render_card(job, character, offer_likeness=offer)
        card.view = card_view(
            character.character_id, job.id, likeness=not offer, locale=job_locale(job)
        )
        first = min((c.id for c in await self.characters.for_job(job.id)), default=character.id)
        if character.id == first:
            in_channel = await self._final(job, card, nonce=f"sora-c{character.id}")
            if in_channel and job.requester_id:
                await self._send(
                    job,
                    Rendered(content=render_ping(job, 1)),
                    reply_to=job.message_id,
                    nonce=f"sora-p{job.id}",
                    dm_fallback=False,
                )
        else:
            await self._send(job, card, reply_to=job.message_id, nonce=f"sora-c{character.id}")

    async def character_bound(self, job: Job, character: Character) -> None:
        """A binding job ended: its character's card shows the engines now (edited in
        place, without a ping; nothing when the card is not known or gone)."""
        if job.channel_id is None or job.message_id is None:
            return
        offer = offers_likeness(character, self._engines())
        locale = job_locale(job)
        card = render_card(None, character, offer_likeness=offer, locale=locale)
        card.content = None
        card.view = card_view(
            character.character_id, character.job_id or job.id, likeness=not offer, locale=locale
        )
        try:
            await self.writes.wait(True)
            await self._edit(job.channel_id, job.message_id, card)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("job %d: card not updated (HTTP %s)", job.id, exc.status)

    async def job_failed(self, job: Job) -> None:
        """Say why, and what to do next (in a new message if the reply is not known)."""
        if job.kind is JobKind.LIKENESS:
            return  # its character's card says how it ended (`character_bound`)
        if job.cancelled_at:
            await self._forget(job)
            return  # the member cancelled it and was told then
        if self._has_reply(job):
            await self._final(job, render_failure(job), nonce=f"sora-f{job.id}")
        elif job.channel_id is not None:
            rendered = render_failure(job)
            if job.requester_id:
                rendered.content = f"<@{job.requester_id}>"
            await self._send(job, rendered, reply_to=None, nonce=f"sora-f{job.id}")

    async def video_ready(self, job: Job) -> None:
        """The video replaces the reply: as a file when it fits the channel, else a link."""
        if not await self._still_shown(job):
            return
        core = getattr(self.client, "core", None)
        allow_private = bool(core and core.settings.allow_private_urls)
        videos = VIDEOS.get(self.client)
        async with videos.finished_video(job, allow_private=allow_private) as rendered:
            await self._final(job, rendered, nonce=f"sora-v{job.id}")

    async def job_unknown(self, job: Job) -> None:
        """Say the submission may or may not have happened."""
        if await self._still_shown(job):  # not a binding job: it is made again instead
            rendered = render_unknown(job)
            rendered.view = retry_view(job.id, locale=job_locale(job))
            await self._final(job, rendered, nonce=f"sora-u{job.id}")

    async def _forget(self, job: Job) -> None:
        """Free the job's updater; progress it still had to send is dropped."""
        updater = self._updaters.pop(job.id, None)
        if updater is not None:
            await updater.cancel()

    async def close(self) -> None:
        """Stop pending progress edits."""
        for updater in list(self._updaters.values()):
            await updater.cancel()
        self._updaters.clear()
        self.replies.clear()
