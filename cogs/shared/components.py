"""What every button that survives restarts shares: the ids in its custom_id checked
against the click's server and member before it acts, failures reported (never "This
interaction failed"), and the patterns their custom_ids carry."""

from __future__ import annotations

from typing import Any, ClassVar

import discord

from cogs.shared.failures import report_failure
from cogs.shared.owned import NOT_FOR_YOU, Named, refusal

CHARACTER_ID = r"(?P<cid>[A-Za-z0-9_\-]{1,80})"
JOB_ID = r"(?P<job>\d{1,19})"

__all__ = ["CHARACTER_ID", "JOB_ID", "Guarded", "Named"]


class Guarded:
    """Checks what the custom_id names (`named`), then runs `act`, reporting any failure.

    A subclass that does not say what its custom_id names is refused when it is defined,
    so a new button cannot skip the check.
    """

    not_for_you: ClassVar[str] = NOT_FOR_YOU  # when `Named.user_id` is someone else

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.named is Guarded.named:
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
