"""Whether the ids a button's custom_id names are this server's and this member's to use.

A custom_id is the member's word, not Discord's: anyone can send a click with any id in
it. Every button that survives restarts says what its id names (`Named`) and
`refusal` checks it before the button does anything: no toapis call, no read of another
server's data, nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import N_
from cogs.shared.i18n import tr

if TYPE_CHECKING:
    from bot.domain.records import Job
    from bot.runtime.container import Core

FOREIGN = N_(
    "That button points at something that is not in this server (or is gone); nothing was done."
)
FOREIGN_CHANNEL = N_(
    "That button points at a message outside this server or in a channel you cannot see; "
    "nothing was read. React to the video yourself, or right-click it → Apps → Create Sora "
    "character."
)
NOT_YOURS_JOB = N_("Only the person who asked, or someone with Manage Server, can do that.")
NOT_YOURS_CHARACTER = N_(
    "Only the person who created this character, or someone with Manage Server, can do that."
)
NOT_FOR_YOU = N_("This button is for another member.")


@dataclass(frozen=True, slots=True)
class Named:
    """What a button's custom_id names; all of it must belong to the click's server.

    `member`: the job's requester or the character's creator (or Manage Server) only.
    `user_id`: that member only. `channel_id`: a channel the member can see; a job's
    channels (where it was asked for, where its video was posted) likewise.
    Nothing named (a random id of the member's own, checked where it is used): `Named()`.
    """

    job_id: int | None = None
    character_id: str | None = None
    channel_id: int | None = None
    user_id: int | None = None
    member: bool = False


def _core(interaction: discord.Interaction) -> Core:
    core: Any = getattr(interaction.client, "core", None)
    assert core is not None
    return core  # type: ignore[no-any-return]


def member_sees(interaction: discord.Interaction, channel_id: int) -> bool:
    """Whether the member who clicked can see `channel_id`, a channel of this server.

    The click's own channel, Discord vouches for; any other must be a channel or thread
    of this server in the cache, with View Channel for the member (roles and overwrites,
    as Discord computes them). No REST call.
    """
    if interaction.guild_id is None:
        return False
    if channel_id == interaction.channel_id:
        return True
    guild = interaction.guild
    found = guild.get_channel_or_thread(channel_id) if guild is not None else None
    user = interaction.user
    if found is None or found.guild.id != interaction.guild_id:
        return False
    return isinstance(user, discord.Member) and found.permissions_for(user).view_channel


def _channels_of(job: Job) -> set[int]:
    """Where a job was asked for, and the message its video came from (if any)."""
    found = {job.channel_id} if job.channel_id is not None else set()
    source_channel = job.meta.get("channel_id")
    if source_channel is not None:
        found.add(int(source_channel))
    return found


def _manages(interaction: discord.Interaction) -> bool:
    return interaction.permissions.manage_guild


async def refusal(
    interaction: discord.Interaction, named: Named, not_for_you: str = NOT_FOR_YOU
) -> str | None:
    """Why this member may not use what `named` names here, in their language; None when
    they may (`not_for_you`: a msgid)."""
    why = await _refusal(interaction, named, not_for_you)
    return tr(interaction, why) if why is not None else None


async def _refusal(interaction: discord.Interaction, named: Named, not_for_you: str) -> str | None:
    if named == Named():
        return None
    guild_id = interaction.guild_id
    if guild_id is None:
        return FOREIGN
    me = interaction.user.id
    if named.user_id is not None and me != named.user_id:
        return not_for_you
    if named.channel_id is not None and not member_sees(interaction, named.channel_id):
        return FOREIGN_CHANNEL
    if named.job_id is not None:
        job = await _core(interaction).jobs.get(named.job_id)
        if job is None or job.guild_id != guild_id:
            return FOREIGN
        if named.member and job.requester_id != me and not _manages(interaction):
            return NOT_YOURS_JOB
        if not all(member_sees(interaction, c) for c in _channels_of(job)):
            return FOREIGN_CHANNEL  # its video or prompt sits where this member cannot look
    if named.character_id is not None:
        character = await _core(interaction).characters.get(
            guild_id, named.character_id, with_avatar=False
        )
        if character is None:
            return FOREIGN
        if named.member and character.creator_id != me and not _manages(interaction):
            return NOT_YOURS_CHARACTER
    return None
