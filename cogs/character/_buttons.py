"""Buttons on the character card that survive restarts: state lives in the custom_id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.i18n import N_
from cogs.character._registry import CHARACTER_COG
from cogs.shared.components import CharacterButton, JobButton
from cogs.shared.handoffs import CreateFromMessageButton, UseInVideoButton

if TYPE_CHECKING:
    from cogs.character._cog import CharacterCog


def _cog(interaction: discord.Interaction) -> CharacterCog:
    return CHARACTER_COG.get(interaction.client)


class RenameButton(CharacterButton, prefix="rename"):
    """Opens the rename modal (creator or Manage Server)."""

    label = N_("Rename")
    emoji = "✏️"
    member = True

    async def act(self, interaction: discord.Interaction) -> None:
        """Check permission, open the modal."""
        await _cog(interaction).library.open_rename(interaction, self.character_id)


class DeleteButton(CharacterButton, prefix="delete"):
    """Asks for confirmation, then deletes (creator or Manage Server)."""

    label = N_("Delete")
    emoji = "🗑️"
    style = discord.ButtonStyle.danger
    member = True

    async def act(self, interaction: discord.Interaction) -> None:
        """Check permission, ask to confirm."""
        await _cog(interaction).library.confirm_delete(interaction, self.character_id)


class AddLikenessButton(CharacterButton, prefix="likeness"):
    """On a character made before the bot kept likenesses: the range form on the same
    source, to keep its likeness and bind it to Seedance 2 and Vidu Q3 (creator or Manage
    Server; no new Sora task)."""

    label = N_("Add the likeness")
    emoji = "🧬"
    member = True

    async def act(self, interaction: discord.Interaction) -> None:
        """Open the range form for the character's source."""
        await _cog(interaction).library.add_likeness(interaction, self.character_id)


class AgainButton(JobButton, prefix="again"):
    """ "Create from same video": a new range on the same source."""

    label = N_("Create from same video")
    emoji = "🎬"
    style = discord.ButtonStyle.primary

    async def act(self, interaction: discord.Interaction) -> None:
        """Open the range form for the same source."""
        await _cog(interaction).library.create_again(interaction, self.job_id)


class RetryButton(JobButton, prefix="retry"):
    """Under an "unknown" job: send the same request again, knowingly."""

    label = N_("Retry")
    emoji = "🔁"
    style = discord.ButtonStyle.primary
    member = True

    async def act(self, interaction: discord.Interaction) -> None:
        """Resubmit (requester or Manage Server)."""
        await _cog(interaction).library.retry_unknown(interaction, self.job_id)


def retry_view(job_id: int, *, locale: str | None = None) -> discord.ui.View:
    """The Retry button under an "unknown" job."""
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(job_id, locale=locale))
    return view


DYNAMIC_ITEMS = (
    RenameButton,
    DeleteButton,
    AgainButton,
    CreateFromMessageButton,
    RetryButton,
    AddLikenessButton,
)


def card_view(
    character_id: str,
    job_id: int | None,
    *,
    likeness: bool = True,
    locale: str | None = None,
) -> discord.ui.View:
    """The buttons under a character card (`likeness`: it keeps one already), labelled
    in `locale`."""
    view = discord.ui.View(timeout=None)
    view.add_item(UseInVideoButton(character_id, locale=locale))
    view.add_item(RenameButton(character_id, locale=locale))
    view.add_item(DeleteButton(character_id, locale=locale))
    if job_id is not None:
        view.add_item(AgainButton(job_id, locale=locale))
    if not likeness and job_id is not None:
        view.add_item(AddLikenessButton(character_id, locale=locale))
    return view
