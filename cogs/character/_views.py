"""The paged character list, in Components V2: one container with the page's lines, its
contact sheet in a media gallery, the page footer and the Previous / Next buttons."""

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
TEXT_BUDGET = 3600  # of the 4,000 characters a V2 message may show, for the page's lines
COLOUR = discord.Colour.blurple()

PageLoader = Callable[[int], Awaitable[tuple[list[Character], int]]]
# The avatar bytes of a page's characters, by row id.
AvatarLoader = Callable[[list[int]], Awaitable[dict[int, bytes]]]
Container = discord.ui.Container[discord.ui.LayoutView]


async def page_sheet(characters: list[Character], avatars: AvatarLoader) -> discord.File | None:
    """The page's faces as one contact sheet (None for a page without any)."""
    found = await avatars([c.id for c in characters]) if characters else {}
    if not found:
        return None
    tiles = [(c.display_name, found.get(c.id)) for c in characters]
    data = await asyncio.to_thread(contact_sheet, tiles)
    return discord.File(io.BytesIO(data), filename=SHEET_NAME)


def page_count(total: int) -> int:
    """How many pages `total` characters fill (at least one)."""
    return max(1, -(-total // PAGE_SIZE))


def page_text(
    guild_name: str, characters: list[Character], total: int, locale: str | None = None
) -> str:
    """The page's heading and lines: name, @username, creator, when (in `locale`)."""
    guild = discord.utils.escape_markdown(guild_name)
    heading = "### " + translate(locale, "Characters of {server}", server=guild)
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
    if not characters:
        lines.append(
            translate(locale, "No characters yet. Create one with `/character create`.")
            if total == 0
            else translate(locale, "This page is empty.")
        )
    text = heading + "\n" + "\n".join(lines)
    return text if len(text) <= TEXT_BUDGET else text[: TEXT_BUDGET - 1] + "…"


def page_footer(page: int, total: int, locale: str | None = None) -> str:
    """`Page x of y · n character(s)` as small text."""
    footer = translate(
        locale,
        "Page {page} of {pages} · {total} character(s), newest first",
        page=page + 1,
        pages=page_count(total),
        total=total,
    )
    return f"-# {footer}"


class PageButton(discord.ui.Button["ListPager"]):
    """Previous (`step` -1) or Next (+1)."""

    def __init__(self, label: str, emoji: str, step: int) -> None:
        super().__init__(label=label, emoji=emoji, style=discord.ButtonStyle.secondary)
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the page `step` away."""
        if self.view is not None:
            await self.view.turn(interaction, self.view.page + self.step)


class ListPager(discord.ui.LayoutView):
    """One page of the list with previous / next over a page loader; only the person who
    asked can page. Call `show` before sending it."""

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
        self.previous = PageButton(translate(locale, "Previous"), "◀️", -1)
        self.next = PageButton(translate(locale, "Next"), "▶️", 1)
        self.owner_id = owner_id
        self.guild_name = guild_name
        self.loader = loader
        self.avatars = avatars
        self.total = total
        self.page = 0

    @property
    def pages(self) -> int:
        """How many pages there are."""
        return page_count(self.total)

    async def show(self, characters: list[Character]) -> discord.File | None:
        """Lay out the current page of `characters`; its contact sheet, to attach."""
        sheet = await page_sheet(characters, self.avatars) if self.avatars else None
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        container: Container = discord.ui.Container(accent_colour=COLOUR)
        container.add_item(
            discord.ui.TextDisplay(page_text(self.guild_name, characters, self.total, self.locale))
        )
        if sheet is not None:
            gallery: discord.ui.MediaGallery[discord.ui.LayoutView] = discord.ui.MediaGallery()
            gallery.add_item(media=f"attachment://{sheet.filename}")
            container.add_item(gallery)
        container.add_item(discord.ui.TextDisplay(page_footer(self.page, self.total, self.locale)))
        row: discord.ui.ActionRow[discord.ui.LayoutView] = discord.ui.ActionRow()
        row.add_item(self.previous)
        row.add_item(self.next)
        container.add_item(row)
        self.clear_items()
        self.add_item(container)
        return sheet

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

    async def turn(self, interaction: discord.Interaction, page: int) -> None:
        """Edit the list in place to show `page` (its sheet replaces the last one)."""
        characters, total = await self.loader(page)
        self.total = total
        self.page = max(0, min(page, self.pages - 1))
        sheet = await self.show(characters)
        await interaction.response.edit_message(
            view=self, attachments=[sheet] if sheet is not None else []
        )
