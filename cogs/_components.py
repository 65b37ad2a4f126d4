"""What every button that survives restarts shares: failures reported, never "This
interaction failed", and the patterns their custom_ids carry."""

from __future__ import annotations

import discord

from cogs.errors import report_failure

CHARACTER_ID = r"(?P<cid>[A-Za-z0-9_\-]{1,80})"
JOB_ID = r"(?P<job>\d{1,19})"


class Guarded:
    """Runs `act` and reports any failure to the user (never "This interaction failed")."""

    async def act(self, interaction: discord.Interaction) -> None:
        """What the button does."""
        raise NotImplementedError

    async def callback(self, interaction: discord.Interaction) -> None:
        """Discord's entry point: `act`, guarded."""
        try:
            await self.act(interaction)
        except Exception as exc:
            await report_failure(interaction, exc)
