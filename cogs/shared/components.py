"""What every button that survives restarts shares: the ids in its custom_id checked
against the click's server and member before it acts, failures reported (never "This
interaction failed"), the patterns their custom_ids carry, and (for the buttons that name
one job or one character) how they are built and rebuilt from their custom_id."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from bot.i18n import translate
from cogs.shared.failures import report_failure
from cogs.shared.owned import NOT_FOR_YOU, Named, refusal

CHARACTER_ID = r"(?P<cid>[A-Za-z0-9_\-]{1,80})"
JOB_ID = r"(?P<job>\d{1,19})"
NEVER = r"(?!)"  # the template of a base class, which is never registered

__all__ = ["CHARACTER_ID", "JOB_ID", "CharacterButton", "Guarded", "JobButton", "Named"]


class Guarded:
    """Checks what the custom_id names (`named`), then runs `act`, reporting any failure.

    A subclass that does not say what its custom_id names is refused when it is defined,
    so a new button cannot skip the check.
    """

    not_for_you: ClassVar[str] = NOT_FOR_YOU  # when `Named.user_id` is someone else

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        template = getattr(cls, "__discord_ui_compiled_template__", None)
        base = template is not None and template.pattern == NEVER
        if cls.named is Guarded.named and not base:
            raise TypeError(f"{cls.__name__} must say what its custom_id names (`named`)")

    def named(self) -> Named:
        """What the custom_id names (untrusted until `interaction_check` passed)."""
        raise NotImplementedError

    async def act(self, interaction: discord.Interaction) -> None:
        """What the button does."""
        raise NotImplementedError

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """discord.py's hook before `callback`: refuse privately what is not this member's
        to use in this server."""
        try:
            why = await refusal(interaction, self.named(), self.not_for_you)
            if why is None:
                return True
            await interaction.response.send_message(why, ephemeral=True)
        except Exception as exc:
            await report_failure(interaction, exc)
        return False

    async def callback(self, interaction: discord.Interaction) -> None:
        """Discord's entry point: `act`, guarded."""
        try:
            await self.act(interaction)
        except Exception as exc:
            await report_failure(interaction, exc)


class _OneIdButton(Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=NEVER):
    """A button whose custom_id is `sora:<prefix>:<one id>`. A subclass names its prefix
    as a class keyword and says how it looks in class attributes."""

    id_pattern: ClassVar[str] = NEVER
    prefix: ClassVar[str] = ""
    label: ClassVar[str] = ""  # a msgid (N_); "{id}" stands for the id
    emoji: ClassVar[str | None] = None
    style: ClassVar[discord.ButtonStyle] = discord.ButtonStyle.secondary
    member: ClassVar[bool] = False  # only its owner (or Manage Server) may use it

    def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None:
        template = rf"sora:{prefix}:{cls.id_pattern}" if prefix else NEVER
        super().__init_subclass__(template=template, **kwargs)
        if prefix:
            cls.prefix = prefix

    def _button(self, value: object, locale: str | None) -> discord.ui.Button[Any]:
        return discord.ui.Button(
            label=translate(locale, self.label, id=value),
            emoji=self.emoji,
            style=self.style,
            custom_id=f"sora:{self.prefix}:{value}",
        )


class JobButton(_OneIdButton):
    """A restart-proof button naming one job of this server (its requester's where
    `member`)."""

    id_pattern = JOB_ID

    def __init__(self, job_id: int, *, locale: str | None = None) -> None:
        super().__init__(self._button(job_id, locale))
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom_id (untrusted: `named` is checked before `act`)."""
        return cls(int(match["job"]))

    def named(self) -> Named:
        """The job, in this server (and the member's where `member`)."""
        return Named(job_id=self.job_id, member=self.member)


class CharacterButton(_OneIdButton):
    """A restart-proof button naming one character of this server (its creator's where
    `member`)."""

    id_pattern = CHARACTER_ID

    def __init__(self, character_id: str, *, locale: str | None = None) -> None:
        super().__init__(self._button(character_id, locale))
        self.character_id = character_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        """Rebuild from the custom_id (untrusted: `named` is checked before `act`)."""
        return cls(match["cid"])

    def named(self) -> Named:
        """The character, in this server (and the member's where `member`)."""
        return Named(character_id=self.character_id, member=self.member)
