"""Retry: an "unknown" job's request sent again as a new job, in place of the old one."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.domain.records import Job, JobState, NewJob
from bot.i18n import N_
from bot.i18n.text import Text
from bot.jobs.create import Location, start_ready
from bot.jobs.submission import request_of
from cogs.character._render import render_unknown
from cogs.shared.i18n import languages, tr, tr_refusal
from cogs.shared.limits import reserve
from cogs.shared.render import Rendered
from cogs.shared.replies import show_job

if TYPE_CHECKING:
    from bot.runtime.container import Core
    from cogs.character._flow import CreateFlow

log = logging.getLogger(__name__)

NOT_ALLOWED_RETRY = N_("Only the person who asked, or someone with Manage Server, can retry it.")


async def retry_unknown(
    core: Core, flow: CreateFlow, interaction: discord.Interaction, job_id: int
) -> None:
    """Send an "unknown" job's request again as a new job, at the user's request."""
    old = await core.jobs.get(job_id)
    if old is None or old.guild_id != interaction.guild_id or old.state is not JobState.UNKNOWN:
        await interaction.response.send_message(
            tr(interaction, "There is nothing to retry here any more."), ephemeral=True
        )
        return
    if interaction.user.id != old.requester_id and not interaction.permissions.manage_guild:
        await interaction.response.send_message(tr(interaction, NOT_ALLOWED_RETRY), ephemeral=True)
        return
    # Reserved before answering (a refusal, or a second click, is answered privately at
    # once); its reply is attached when it goes into the line.
    new = NewJob(
        guild_id=old.guild_id,
        source_kind=old.source_kind,
        source_ref=old.source_ref,
        range_start=old.range_start,
        range_end=old.range_end,
        model=old.model,
        provider=old.provider,
        channel_id=interaction.channel_id,
        requester_id=interaction.user.id,
        meta={**old.meta, "retry_of": old.id, **languages(interaction)},
        kind=old.kind,
    )
    await start_ready(
        core.tracker, _RetryFront(core, flow, interaction, old.id), new, request_of(old)
    )


class _RetryFront:
    """Retry's reserve, show and submit steps (`bot.jobs.create`): the new job replaces
    the unknown one, and the Retry button goes."""

    def __init__(
        self, core: Core, flow: CreateFlow, interaction: discord.Interaction, old_id: int
    ) -> None:
        self.core, self.flow = core, flow
        self.interaction = interaction
        self.old_id = old_id

    async def reserve(self, new: NewJob) -> Job | str:
        """Store the new job within the member's limits in place of the old one."""
        return await reserve(
            self.core,
            self.interaction,
            new,
            replaces=(self.old_id, "sent again as a new job (Retry)"),
        )

    async def refuse(self, text: str | Text, cause: Exception | None = None) -> None:
        """Over a limit now, or another Retry was first."""
        words = tr_refusal(self.interaction, text, cause)
        await self.interaction.response.send_message(words, ephemeral=True)

    async def show_sending(self, job: Job) -> Location:
        """A public reply for the new job; the Retry button is removed."""
        interaction = self.interaction
        await interaction.response.defer(thinking=True)
        where = await show_job(
            self.flow.bot,
            interaction,
            Rendered(content=tr(interaction, "Sending the request again…")),
            job,  # a new job: its reply (deferred just now) was not known when it was stored
            self.flow.replies,
        )
        if interaction.message is not None:
            old = await self.core.jobs.get(self.old_id)
            try:
                if interaction.message.flags.components_v2 and old is not None:
                    await interaction.message.edit(**render_unknown(old).body(edit=True))
                else:
                    await interaction.message.edit(view=None)
            except discord.HTTPException as exc:
                log.info("could not remove the Retry button: %s", exc)
        return where
