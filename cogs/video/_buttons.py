"""Buttons that survive restarts: under a video ("Again", "Make a character from this");
the one under a character card ("Use in a video") is in `cogs.shared.handoffs`. State lives
in the custom_id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.i18n import N_, translate
from cogs.shared.components import JobButton
from cogs.shared.handoffs import UseInVideoButton
from cogs.video._registry import VIDEO_COG

if TYPE_CHECKING:
    from cogs.video._cog import VideoCog


def _cog(interaction: discord.Interaction) -> VideoCog:
    return VIDEO_COG.get(interaction.client)


class VideoAgainButton(JobButton, prefix="vagain"):
    """Make another video with the same prompt, characters and settings."""

    label = N_("Again")
    emoji = "🔁"
    style = discord.ButtonStyle.primary

    async def act(self, interaction: discord.Interaction) -> None:
        """The same settings again."""
        await _cog(interaction).again(interaction, self.job_id)


class CharacterFromVideoButton(JobButton, prefix="vchar"):
    """Open the range form for a character from this video (`from_task`)."""

    label = N_("Make a character from this")
    emoji = "🎭"

    async def act(self, interaction: discord.Interaction) -> None:
        """The range form, with the video's task as the source."""
        await _cog(interaction).character_from(interaction, self.job_id)


class PromptModal(discord.ui.Modal, title="Make a video"):
    """The prompt of a video starring the character(s)."""

    prompt: discord.ui.TextInput[PromptModal]  # built per form in the asker's language

    def __init__(
        self, cog: VideoCog, character_ids: list[str], *, locale: str | None = None
    ) -> None:
        super().__init__(title=translate(locale, "Make a video"))
        self.cog = cog
        self.character_ids = character_ids
        self.prompt = discord.ui.TextInput(
            label=translate(locale, "What happens in the video?"),
            style=discord.TextStyle.paragraph,
            placeholder=translate(locale, "walks along a beach at sunset, waving at the camera"),
            max_length=1000,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Start the video with the server's defaults."""
        await self.cog.flow.start(interaction, self.prompt.value, self.character_ids)


VIDEO_ITEMS = (VideoAgainButton, CharacterFromVideoButton, UseInVideoButton)


def video_view(job_id: int, *, locale: str | None = None) -> discord.ui.View:
    """The buttons under a finished video, labelled in `locale`."""
    view = discord.ui.View(timeout=None)
    view.add_item(VideoAgainButton(job_id, locale=locale))
    view.add_item(CharacterFromVideoButton(job_id, locale=locale))
    return view
