"""`/character jobs`: the jobs in flight (a member's own; the server's for admins), with
a Cancel button that survives restarts.

toapis has no cancel: a job not sent yet is dropped (nothing charged); a sent one stops
updating its member, and a late result is stored without a ping.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.ranges import format_clock
from bot.domain.records import Job, JobState
from bot.i18n import N_, translate
from cogs.character._render import describe_source, render_cancelled
from cogs.shared.components import JobButton
from cogs.shared.i18n import tr
from cogs.shared.render import speaker

if TYPE_CHECKING:
    from bot.runtime.container import Core

log = logging.getLogger(__name__)

SHOWN = 10
NOTHING = N_("No jobs in flight. Start one with `/character create`.")
NOT_YOURS = N_("Only the person who asked, or someone with Manage Server, can cancel it.")
GONE = N_("That job is over or no longer exists.")
_WORDS = {
    JobState.PREPARING: N_("preparing the video"),
    JobState.SUBMITTING: N_("being sent"),
    JobState.WAITING: N_("waiting to be sent"),
    JobState.QUEUED: N_("queued at toapis"),
    JobState.IN_PROGRESS: N_("in progress"),
}


def _core(interaction: discord.Interaction) -> Core:
    core: Any = getattr(interaction.client, "core", None)
    assert core is not None
    return core  # type: ignore[no-any-return]


def jobs_message(
    jobs: list[Job], *, whole_server: bool, locale: str | None = None
) -> tuple[discord.Embed, discord.ui.View]:
    """The list and one Cancel button per job, in `locale`'s language."""
    title = (
        translate(locale, "Jobs in flight in this server")
        if whole_server
        else translate(locale, "Your jobs in flight")
    )
    embed = discord.Embed(title=title, colour=discord.Colour.blurple())
    view = discord.ui.View(timeout=None)
    if not jobs:
        embed.description = translate(locale, NOTHING)
        return embed, view
    lines = []
    for job in jobs[:SHOWN]:
        who = f" · <@{job.requester_id}>" if whole_server and job.requester_id else ""
        state = _WORDS.get(job.state)
        when = f"<t:{int(job.created_at)}:R>"
        started = translate(locale, "started {when}", when=when)
        lines.append(
            f"**#{job.id}** {translate(locale, state) if state else job.state.value} · "
            f"{job.progress}% · {format_clock(job.range_start)}–{format_clock(job.range_end)} · "
            f"{describe_source(job, speaker(locale))[:80]}{who} · {started}"
        )
        view.add_item(CancelButton(job.id, locale=locale))
    embed.description = "\n".join(lines)
    return embed, view


async def show_jobs(interaction: discord.Interaction) -> None:
    """Answer privately with the caller's jobs (the server's for Manage Server)."""
    assert interaction.guild_id is not None
    whole_server = interaction.permissions.manage_guild
    jobs = await _core(interaction).jobs.in_flight(
        interaction.guild_id, None if whole_server else interaction.user.id, limit=SHOWN
    )
    embed, view = jobs_message(jobs, whole_server=whole_server, locale=interaction.locale.value)
    await interaction.response.send_message(
        embed=embed, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


class CancelButton(JobButton, prefix="cancel"):
    """Cancel one job (the requester or Manage Server)."""

    label = N_("Cancel #{id}")
    member = True

    async def act(self, interaction: discord.Interaction) -> None:
        """Cancel, tell the member, refresh the list."""
        core = _core(interaction)
        job = await core.jobs.get(self.job_id)
        if job is None or job.guild_id != interaction.guild_id or job.state.is_final:
            await interaction.response.send_message(tr(interaction, GONE), ephemeral=True)
            return
        if job.requester_id != interaction.user.id and not interaction.permissions.manage_guild:
            await interaction.response.send_message(tr(interaction, NOT_YOURS), ephemeral=True)
            return
        cancelled = await core.tracker.cancel(job.id)
        if cancelled is not None and cancelled.cancelled_at:
            await _show_cancelled(interaction.client, cancelled)  # nobody else will now
        whole_server = interaction.permissions.manage_guild
        jobs = await core.jobs.in_flight(
            job.guild_id, None if whole_server else interaction.user.id, limit=SHOWN
        )
        embed, view = jobs_message(jobs, whole_server=whole_server, locale=interaction.locale.value)
        await interaction.response.edit_message(
            content=tr(interaction, "Cancelled #{job}.", job=job.id), embed=embed, view=view
        )


async def _show_cancelled(client: discord.Client, job: Job) -> None:
    """Turn a sent job's reply into "Cancelled" (best effort: it may be gone)."""
    if job.channel_id is None or job.message_id is None:
        return
    reply = client.get_partial_messageable(job.channel_id).get_partial_message(job.message_id)
    try:
        await reply.edit(**render_cancelled(job).body(edit=True), attachments=[])
    except discord.HTTPException as exc:
        log.info("job %d: could not mark the reply cancelled: %s", job.id, exc)
