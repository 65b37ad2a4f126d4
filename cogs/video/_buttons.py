"""Buttons that survive restarts: under a video ("Again", "Make a character from this");
the one under a character card ("Use in a video") is in `cogs.shared.handoffs`. State lives
in the custom_id."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from cogs.shared.components import JOB_ID, Guarded, Named
from cogs.shared.handoffs import UseInVideoButton
from cogs.video._registry import VIDEO_COG

if TYPE_CHECKING:
    from cogs.video._cog import VideoCog


def _cog(interaction: discord.Interaction) -> VideoCog:
    return VIDEO_COG.get(interaction.client)


class VideoAgainButton(
    Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"sora:vagain:{JOB_ID}"
):
    """Make another video with the same prompt, characters and settings."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Again",
                emoji="🔁",
                style=discord.ButtonStyle.primary,
                custom_id=f"sora:vagain:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VideoAgainButton:
        """Rebuild from the custom_id after a restart."""
        return cls(int(match["job"]))

    def named(self) -> Named:
        """A job of this server."""
        return Named(job_id=self.job_id)

    async def act(self, interaction: discord.Interaction) -> None:
        """The same settings again."""
        await _cog(interaction).again(interaction, self.job_id)


class CharacterFromVideoButton(
    Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=rf"sora:vchar:{JOB_ID}"
):
    """Open the range form for a character from this video (`from_task`)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Make a character from this",
                emoji="🎭",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sora:vchar:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CharacterFromVideoButton:
        """Rebuild from the custom_id after a restart."""
        return cls(int(match["job"]))

    def named(self) -> Named:
        """A job of this server."""
        return Named(job_id=self.job_id)

    async def act(self, interaction: discord.Interaction) -> None:
        """The range form, with the video's task as the source."""
        await _cog(interaction).character_from(interaction, self.job_id)


class PromptModal(discord.ui.Modal, title="Make a Sora video"):
    """The prompt of a video starring the character(s)."""

    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="What happens in the video?",
        style=discord.TextStyle.paragraph,
        placeholder="walks along a beach at sunset, waving at the camera",
        max_length=1000,
    )

    def __init__(self, cog: VideoCog, character_ids: list[str]) -> None:
        super().__init__()
        self.cog = cog
        self.character_ids = character_ids

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Start the video with the server's defaults."""
        await self.cog.flow.start(interaction, self.prompt.value, self.character_ids)


VIDEO_ITEMS = (VideoAgainButton, CharacterFromVideoButton, UseInVideoButton)


def video_view(job_id: int) -> discord.ui.View:
    """The buttons under a finished video."""
    view = discord.ui.View(timeout=None)
    view.add_item(VideoAgainButton(job_id))
    view.add_item(CharacterFromVideoButton(job_id))
    return view
