"""Spending limits at every entry point: asked before any form, media work or API call."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.domain.records import Job, NewJob
from bot.policy.spending_limits import Asker, Refusal
from cogs.shared.i18n import tr

if TYPE_CHECKING:
    from bot.runtime.container import Core


def asker_of(interaction: discord.Interaction) -> Asker:
    """Who is asking, where, with which roles (from the interaction; nothing is fetched)."""
    assert interaction.guild_id is not None
    user = interaction.user
    roles = [role.id for role in user.roles] if isinstance(user, discord.Member) else []
    channel = interaction.channel
    parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return Asker(
        guild_id=interaction.guild_id,
        member_id=user.id,
        role_ids=roles,
        channel_id=interaction.channel_id,
        parent_id=parent,
        is_admin=interaction.permissions.manage_guild,
    )


def refusal_words(interaction: discord.Interaction, refusal: Refusal) -> str:
    """The private message for a refusal, with channels and the role mentioned, in the
    member's language."""
    if refusal.kind == "channel":
        where = ", ".join(f"<#{channel}>" for channel in refusal.channels[:10])
        return tr(interaction, "I only take jobs in {channels} in this server.", channels=where)
    if refusal.kind == "role" and refusal.role_id is not None:
        return tr(
            interaction, "Creating characters here needs the <@&{role}> role.", role=refusal.role_id
        )
    return refusal.text.render(interaction.locale.value)


async def limited(
    core: Core, interaction: discord.Interaction, *, video: bool = False
) -> str | None:
    """The refusal to give this member now (None: go ahead). In servers only. An early
    answer: the job itself is stored with `reserve`, which holds the limits."""
    if interaction.guild_id is None:
        return None
    refusal = await core.limits.check(asker_of(interaction), video=video)
    return refusal_words(interaction, refusal) if refusal is not None else None


async def reserve(
    core: Core,
    interaction: discord.Interaction,
    new: NewJob,
    *,
    replaces: tuple[int, str] | None = None,
) -> Job | str:
    """Store the member's job within every limit (counted and written in one step), or
    the refusal to give them (nothing stored)."""
    job = await core.limits.reserve(asker_of(interaction), new, replaces=replaces)
    return refusal_words(interaction, job) if isinstance(job, Refusal) else job


async def refuse_if_limited(core: Core, interaction: discord.Interaction) -> bool:
    """Answer privately and return True when the member may not start a job now (for
    entry points that have not answered the interaction yet)."""
    text = await limited(core, interaction)
    if text is None:
        return False
    await interaction.response.send_message(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )
    return True
