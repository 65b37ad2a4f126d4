"""The paged character list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.domain.records import Character
from cogs.shared.failures import report_failure

PAGE_SIZE = 10

PageLoader = Callable[[int], Awaitable[tuple[list[Character], int]]]


def render_list_page(
    guild_name: str, characters: list[Character], page: int, total: int
) -> discord.Embed:
    """One page of the list: name, @username, creator, when."""
    pages = max(1, -(-total // PAGE_SIZE))
    embed = discord.Embed(
        title=f"Characters of {discord.utils.escape_markdown(guild_name)}",
        colour=discord.Colour.blurple(),
    )
    if not characters:
        embed.description = (
            "No characters yet. Create one with `/character create`."
            if total == 0
            else "This page is empty."
        )
    lines = []
    for character in characters:
        name = discord.utils.escape_mentions(discord.utils.escape_markdown(character.display_name))
        creator = f"<@{character.creator_id}>" if character.creator_id else "unknown"
        lines.append(
            f"**{name}** `@{character.username}`\nby {creator}, <t:{int(character.created_at)}:R>"
        )
    if lines:
        embed.description = "\n".join(lines)
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} character(s), newest first")
    return embed


class ListPager(discord.ui.View):
    """Previous / next buttons over a page loader; only the person who asked can page."""

    def __init__(
        self,
        owner_id: int,
        guild_name: str,
        loader: PageLoader,
        total: int,
        *,
        timeout: float = 600,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.guild_name = guild_name
        self.loader = loader
        self.total = total
        self.page = 0
        self._sync_buttons()

    @property
    def pages(self) -> int:
        """How many pages there are."""
        return max(1, -(-self.total // PAGE_SIZE))

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the person who ran the command pages through it."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "Run `/character list` yourself to browse.", ephemeral=True
            )
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Say something useful instead of "This interaction failed"."""
        await report_failure(interaction, error)

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        characters, total = await self.loader(page)
        self.total = total
        self.page = max(0, min(page, self.pages - 1))
        self._sync_buttons()
        embed = render_list_page(self.guild_name, characters, self.page, total)
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction, button: discord.ui.Button[ListPager]
    ) -> None:
        """Show the previous page."""
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction, button: discord.ui.Button[ListPager]
    ) -> None:
        """Show the next page."""
        await self._show(interaction, self.page + 1)
