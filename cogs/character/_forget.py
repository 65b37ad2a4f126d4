"""`/character forget-me`: a private question, then the member is forgotten in this server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.i18n import N_, translate
from bot.policy.retention import Forgotten
from cogs.shared.asker_view import AskerView
from cogs.shared.i18n import tr

if TYPE_CHECKING:
    from bot.runtime.container import Core

KEEP = N_("Keep my characters, unattributed")
DELETE = N_("Delete my characters too")

ASK = N_(
    "In this server I keep **{jobs}** job record(s) you asked for and **{characters}** "
    "character(s) you created.\n"
    "Forgetting you removes your user id from all of them: your jobs stay only as anonymous "
    "counts in the server's usage, without the video you gave. Your characters can stay in "
    "the library without your name, or be deleted.\n"
    "Messages already posted in channels are not changed; `@username`s keep working in Sora."
)
CANCEL = N_("Cancel")
NOTHING = N_("I keep nothing about you in this server: no jobs, no characters.")


def forgotten_text(done: Forgotten, locale: str | None = None) -> str:
    """What forgetting did, in one line a member reads (in `locale`'s language)."""
    if done.characters_deleted:
        kept = translate(locale, "deleted {count} character(s) you created", count=done.characters)
    else:
        kept = translate(
            locale,
            "kept {count} character(s) you created, now without a creator",
            count=done.characters,
        )
    return translate(
        locale,
        "Done: I forgot you in this server. {jobs} job record(s) no longer name you "
        "(they remain as anonymous usage counts); {kept}.",
        jobs=done.jobs,
        kept=kept,
    )


async def ask_forget_me(core: Core, interaction: discord.Interaction) -> None:
    """Say what is kept about the member here and offer the two ways to forget it."""
    assert interaction.guild_id is not None
    jobs, characters = await core.lifecycle.footprint(interaction.guild_id, interaction.user.id)
    if jobs == 0 and characters == 0:
        await interaction.response.send_message(tr(interaction, NOTHING), ephemeral=True)
        return
    await interaction.response.send_message(
        tr(interaction, ASK, jobs=jobs, characters=characters),
        view=ForgetMe(core, interaction.user.id, interaction.guild_id, interaction.locale.value),
        ephemeral=True,
    )


class ForgetMe(AskerView):
    """Keep characters unattributed / delete them too / cancel."""

    def __init__(self, core: Core, user_id: int, guild_id: int, locale: str | None = None) -> None:
        super().__init__(user_id, timeout=300)
        self.core = core
        self.user_id = user_id
        self.guild_id = guild_id
        self.keep.label = translate(locale, KEEP)
        self.delete.label = translate(locale, DELETE)
        self.cancel.label = translate(locale, CANCEL)

    async def _forget(self, interaction: discord.Interaction, *, delete: bool) -> None:
        done = await self.core.forget_member(self.guild_id, self.user_id, delete_characters=delete)
        self.stop()
        await interaction.response.edit_message(
            content=forgotten_text(done, interaction.locale.value), view=None
        )

    @discord.ui.button(label=KEEP, style=discord.ButtonStyle.primary)
    async def keep(
        self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMe]
    ) -> None:
        """Forget the member; their characters stay without a creator."""
        await self._forget(interaction, delete=False)

    @discord.ui.button(label=DELETE, style=discord.ButtonStyle.danger)
    async def delete(
        self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMe]
    ) -> None:
        """Forget the member and delete their characters."""
        await self._forget(interaction, delete=True)

    @discord.ui.button(label=CANCEL, style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, button: discord.ui.Button[ForgetMe]
    ) -> None:
        """Change nothing."""
        self.stop()
        await interaction.response.edit_message(
            content=tr(interaction, "Nothing was changed."), view=None
        )
