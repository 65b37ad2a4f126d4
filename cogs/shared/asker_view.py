"""A private view only the member who asked may use, saying plainly when something fails."""

from __future__ import annotations

from typing import Any

import discord

from cogs.shared.failures import report_failure


class AskerView(discord.ui.View):
    """Buttons or a menu for one member (a confirmation, a choice): anyone else's click
    is ignored, and an error is told instead of "This interaction failed"."""

    def __init__(self, asker_id: int, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.asker_id = asker_id

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the member who asked."""
        return interaction.user.id == self.asker_id

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Say something useful instead of "This interaction failed"."""
        await report_failure(interaction, error)
