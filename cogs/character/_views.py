"""The paged character list."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.domain.records import Character
from bot.i18n import translate
from cogs.character._sheet import SHEET_NAME, contact_sheet
from cogs.shared.failures import report_failure
from cogs.shared.i18n import tr

PAGE_SIZE = 10

PageLoader = Callable[[int], Awaitable[tuple[list[Character], int]]]
# The avatar bytes of a page's characters, by row id.
AvatarLoader = Callable[[list[int]], Awaitable[dict[int, bytes]]]


async def page_sheet(characters: list[Character], avatars: AvatarLoader) -> discord.File | None:
    """The page's faces as one contact sheet (None for an empty page)."""
    if not characters:
        return None
    found = await avatars([c.id for c in characters])
    tiles = [(c.display_name, found.get(c.id)) for c in characters]
    data = await asyncio.to_thread(contact_sheet, tiles)
    return discord.File(io.BytesIO(data), filename=SHEET_NAME)


def with_sheet(embed: discord.Embed, sheet: discord.File | None) -> discord.Embed:
    """The page's embed showing its contact sheet, if there is one."""
    if sheet is not None:
        embed.set_image(url=f"attachment://{SHEET_NAME}")
    return embed


def render_list_page(
    guild_name: str,
    characters: list[Character],
    page: int,
    total: int,
    locale: str | None = None,
) -> discord.Embed:
    """One page of the list: name, @username, creator, when (in `locale`'s language)."""
    pages = max(1, -(-total // PAGE_SIZE))
    guild = discord.utils.escape_markdown(guild_name)
    embed = discord.Embed(
        title=translate(locale, "Characters of {server}", server=guild),
        colour=discord.Colour.blurple(),
    )
    if not characters:
        embed.description = (
            translate(locale, "No characters yet. Create one with `/character create`.")
            if total == 0
            else translate(locale, "This page is empty.")
        )
    lines = []
    for character in characters:
        name = discord.utils.escape_mentions(discord.utils.escape_markdown(character.display_name))
        creator = (
            f"<@{character.creator_id}>" if character.creator_id else translate(locale, "unknown")
        )
        handle = f" `@{character.username}`" if character.username else ""
        when = f"<t:{int(character.created_at)}:R>"
        by = translate(locale, "by {creator}, {when}", creator=creator, when=when)
        lines.append(f"**{name}**{handle}\n{by}")
    if lines:
        embed.description = "\n".join(lines)
    footer = translate(
        locale,
        "Page {page} of {pages} · {total} character(s), newest first",
        page=page + 1,
        pages=pages,
        total=total,
    )
    embed.set_footer(text=footer)
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
        avatars: AvatarLoader | None = None,
        timeout: float = 600,
        locale: str | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self.locale = locale
        self.previous.label = translate(locale, "Previous")
        self.next.label = translate(locale, "Next")
        self.owner_id = owner_id
        self.guild_name = guild_name
        self.loader = loader
        self.avatars = avatars
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
                tr(interaction, "Run `/character list` yourself to browse."), ephemeral=True
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
        embed = render_list_page(self.guild_name, characters, self.page, total, self.locale)
        sheet = await page_sheet(characters, self.avatars) if self.avatars else None
        await interaction.response.edit_message(
            embed=with_sheet(embed, sheet), attachments=[sheet] if sheet else [], view=self
        )

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
