"""What one cog offers the others, typed and one per bot, so that no cog imports another's
private modules or looks it up by name: the character cog's forms and its check for a
video in a message, the video cog's prompt form and finished video; and the two
restart-proof buttons one cog shows and the other answers."""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.i18n import N_
from cogs.shared.components import CharacterButton, Guarded, Named
from cogs.shared.per_bot import PerBot

if TYPE_CHECKING:
    from bot.domain.records import Job
    from cogs.shared.render import Rendered
    from cogs.shared.replies import InteractionReplies


class CharacterOffers(Protocol):
    """What the character cog offers the others."""

    @property
    def replies(self) -> InteractionReplies:
        """The interaction tokens of job replies (every flow's and the job listener's)."""
        ...

    def has_video(self, message: discord.Message) -> bool:
        """Whether a character can be made from the message's video (file or link)."""
        ...

    async def open_form_for_message(
        self, interaction: discord.Interaction, channel_id: int, message_id: int
    ) -> None:
        """The range form for the video of a message (read when the form is sent)."""
        ...

    async def open_form_for_task(
        self, interaction: discord.Interaction, task_id: str, model: str
    ) -> None:
        """The range form for an earlier task (`from_task`) of this server."""
        ...


class VideoOffers(Protocol):
    """What the video cog offers the others."""

    async def open_prompt_form(self, interaction: discord.Interaction, character_id: str) -> None:
        """The prompt form of a video starring the character."""
        ...

    def finished_video(
        self, job: Job, *, allow_private: bool
    ) -> AbstractAsyncContextManager[Rendered]:
        """The finished video's message, with its buttons, for the length of a `with`."""
        ...


CHARACTERS: PerBot[CharacterOffers] = PerBot("the character cog")
VIDEOS: PerBot[VideoOffers] = PerBot("the video cog")


class UseInVideoButton(CharacterButton, prefix="vuse"):
    """Under a character card: a form for the prompt of a video starring it."""

    label = N_("Use in a video")
    emoji = "🎥"
    style = discord.ButtonStyle.success

    async def act(self, interaction: discord.Interaction) -> None:
        """Open the prompt form."""
        await VIDEOS.get(interaction.client).open_prompt_form(interaction, self.character_id)


CREATE_CHARACTER = N_("Create character")


class CreateFromMessageButton(
    Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sora:react:(?P<channel>\d{1,19}):(?P<message>\d{1,19}):(?P<user>\d{1,19})",
):
    """Under the reply to a reaction: opens the range form for that message's video."""

    not_for_you = N_(
        "This button is for the person who reacted. React to the video yourself, or "
        "right-click it → Apps → Create Sora character."
    )

    def __init__(
        self, channel_id: int, message_id: int, user_id: int, label: str = CREATE_CHARACTER
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="🎭",
                style=discord.ButtonStyle.primary,
                custom_id=f"sora:react:{channel_id}:{message_id}:{user_id}",
            )
        )
        self.channel_id, self.message_id, self.user_id = channel_id, message_id, user_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CreateFromMessageButton:
        """Rebuild from the custom_id after a restart."""
        return cls(int(match["channel"]), int(match["message"]), int(match["user"]))

    def named(self) -> Named:
        """A channel of this server the member can see; for the member who reacted."""
        return Named(channel_id=self.channel_id, user_id=self.user_id)

    async def act(self, interaction: discord.Interaction) -> None:
        """The range form (only the person who reacted gets here)."""
        await CHARACTERS.get(interaction.client).open_form_for_message(
            interaction, self.channel_id, self.message_id
        )
