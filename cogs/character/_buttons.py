"""Buttons on the character card that survive restarts: state lives in the custom_id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from cogs.character._registry import CHARACTER_COG
from cogs.shared.components import CHARACTER_ID, Guarded, Named
from cogs.shared.handoffs import CreateFromMessageButton, UseInVideoButton

if TYPE_CHECKING:
    from cogs.character._cog import CharacterCog


def _cog(interaction: discord.Interaction) -> CharacterCog:
    return CHARACTER_COG.get(interaction.client)


class RenameButton(
    Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"sora:rename:{CHARACTER_ID}"
):
    """Opens the rename modal (creator or Manage Server)."""

    def __init__(self, character_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Rename",
                emoji="✏️",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sora:rename:{character_id}",
            )
        )
        self.character_id = character_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RenameButton:
        """Rebuild from the custom_id after a restart."""
        return cls(match["cid"])

    def named(self) -> Named:
        """A character of this server, its creator's (or Manage Server)."""
        return Named(character_id=self.character_id, member=True)

    async def act(self, interaction: discord.Interaction) -> None:
        """Check permission, open the modal."""
        await _cog(interaction).library.open_rename(interaction, self.character_id)


class DeleteButton(
    Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"sora:delete:{CHARACTER_ID}"
):
    """Asks for confirmation, then deletes (creator or Manage Server)."""

    def __init__(self, character_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=f"sora:delete:{character_id}",
            )
        )
        self.character_id = character_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> DeleteButton:
        """Rebuild from the custom_id after a restart."""
        return cls(match["cid"])

    def named(self) -> Named:
        """A character of this server, its creator's (or Manage Server)."""
        return Named(character_id=self.character_id, member=True)

    async def act(self, interaction: discord.Interaction) -> None:
        """Check permission, ask to confirm."""
        await _cog(interaction).library.confirm_delete(interaction, self.character_id)


class AgainButton(
    Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sora:again:(?P<job>\d{1,19})",
):
    """ "Create from same video": a new range on the same source."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Create from same video",
                emoji="🎬",
                style=discord.ButtonStyle.primary,
                custom_id=f"sora:again:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AgainButton:
        """Rebuild from the custom_id after a restart."""
        return cls(int(match["job"]))

    def named(self) -> Named:
        """A job of this server."""
        return Named(job_id=self.job_id)

    async def act(self, interaction: discord.Interaction) -> None:
        """Open the range form for the same source."""
        await _cog(interaction).library.create_again(interaction, self.job_id)


class RetryButton(
    Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sora:retry:(?P<job>\d{1,19})",
):
    """Under an "unknown" job: send the same request again, knowingly."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Retry",
                emoji="🔁",
                style=discord.ButtonStyle.primary,
                custom_id=f"sora:retry:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RetryButton:
        """Rebuild from the custom_id after a restart."""
        return cls(int(match["job"]))

    def named(self) -> Named:
        """A job of this server, its requester's (or Manage Server)."""
        return Named(job_id=self.job_id, member=True)

    async def act(self, interaction: discord.Interaction) -> None:
        """Resubmit (requester or Manage Server)."""
        await _cog(interaction).library.retry_unknown(interaction, self.job_id)


def retry_view(job_id: int) -> discord.ui.View:
    """The Retry button under an "unknown" job."""
    view = discord.ui.View(timeout=None)
    view.add_item(RetryButton(job_id))
    return view


DYNAMIC_ITEMS = (RenameButton, DeleteButton, AgainButton, CreateFromMessageButton, RetryButton)


def card_view(character_id: str, job_id: int | None) -> discord.ui.View:
    """The buttons under a character card."""
    view = discord.ui.View(timeout=None)
    view.add_item(UseInVideoButton(character_id))
    view.add_item(RenameButton(character_id))
    view.add_item(DeleteButton(character_id))
    if job_id is not None:
        view.add_item(AgainButton(job_id))
    return view
