"""Deleting a character: the Delete / Cancel confirmation and the card marked deleted."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.records import Character
from bot.i18n import N_, translate
from cogs.shared.asker_view import AskerView
from cogs.shared.i18n import tr, tr_guild
from cogs.shared.render import Rendered

if TYPE_CHECKING:
    from bot.runtime.container import Core

log = logging.getLogger(__name__)

DELETED = N_("*This character was deleted from the library.*")
NO_MENTIONS = discord.AllowedMentions.none()


class ConfirmDelete(AskerView):
    """Delete / Cancel for one character."""

    def __init__(
        self,
        core: Core,
        card_of: Callable[[Character], Awaitable[Rendered]],
        owner_id: int,
        character: Character,
        card: discord.Message | None,
        locale: str | None = None,
    ) -> None:
        super().__init__(owner_id, timeout=120)
        self.core, self.card_of = core, card_of
        self.owner_id = owner_id
        self.character = character
        self.card = card
        self.confirm.label = translate(locale, "Delete")
        self.cancel.label = translate(locale, "Cancel")

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmDelete]
    ) -> None:
        """Delete it."""
        character = self.character
        deleted = await self.core.delete_character(character.guild_id, character.character_id)
        name = discord.utils.escape_markdown(character.display_name)
        text = (
            tr(
                interaction,
                "Deleted **{name}** and its kept likeness from this server's library.",
                name=name,
            )
            if deleted
            else tr(interaction, "**{name}** was already deleted.", name=name)
        )
        if character.username:
            text += " " + tr(
                interaction,
                "`@{username}` keeps working in Sora prompts.",
                username=character.username,
            )
        if character.binding("seedance-2") is not None:
            text += " " + tr(
                interaction,
                "toapis offers no way to delete Seedance 2 avatar assets, so they stay in "
                "the account's private avatar library.",
            )
        await interaction.response.edit_message(content=text, view=None)
        if deleted and self.card is not None:
            try:
                await self._mark_deleted(self.card, tr_guild(interaction.guild_locale, DELETED))
            except discord.HTTPException as exc:
                log.info("could not update the deleted character's card: %s", exc)
        self.stop()

    async def _mark_deleted(self, card: discord.Message, text: str) -> None:
        """The card says the character was deleted and loses its buttons (a V2 card is
        drawn again: V2 has no content beside it)."""
        if not card.flags.components_v2:
            await card.edit(view=None, content=text)
            return
        shown = await self.card_of(self.character)
        shown.content, shown.view = text, None
        files = shown.files()
        extra: dict[str, Any] = {"attachments": files} if files else {}
        await card.edit(**shown.body(edit=True), allowed_mentions=NO_MENTIONS, **extra)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmDelete]
    ) -> None:
        """Keep it."""
        await interaction.response.edit_message(
            content=tr(interaction, "Nothing was deleted."), view=None
        )
        self.stop()
