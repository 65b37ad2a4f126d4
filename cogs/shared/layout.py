"""A message body in Components V2: each embed becomes a container with its colour, its
thumbnail beside the title (a section), its fields and footer as text displays; the
buttons go in the last container. Same words as the embed form, laid out in components."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import discord

MAX_COMPONENTS = 40  # in a whole message, nested ones included
TEXT_MAX = 4000  # characters of one text display
ROW_WIDTH = 5  # buttons in one action row


def as_layout(
    content: str | None,
    embeds: Sequence[discord.Embed],
    view: discord.ui.View | None,
    files: Sequence[str] = (),
) -> discord.ui.LayoutView:
    """The V2 form of `content` + `embeds` + `view`; `files` are the names of the files
    sent with the message (those no embed shows go in a media gallery, as V2 shows none)."""
    layout = discord.ui.LayoutView(timeout=None)
    if content:
        layout.add_item(discord.ui.TextDisplay(_cut(content)))
    shown = {_url(e.thumbnail.url) for e in embeds} | {_url(e.image.url) for e in embeds}
    loose = [name for name in files if f"attachment://{name}" not in shown]
    buttons = list(view.children) if view is not None else []
    for index, embed in enumerate(embeds):
        container = _container(embed)
        if index == len(embeds) - 1:
            if loose:
                container.add_item(_gallery(f"attachment://{name}" for name in loose))
            for row in _rows(buttons):
                container.add_item(row)
        layout.add_item(container)
    return layout


def count(layout: discord.ui.LayoutView) -> int:
    """Components in `layout`, nested ones included (Discord allows `MAX_COMPONENTS`)."""
    return sum(1 for _ in layout.walk_children())


def _container(embed: discord.Embed) -> discord.ui.Container[discord.ui.LayoutView]:
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container(
        accent_colour=embed.colour
    )
    head = "\n".join(
        part for part in (f"### {embed.title}" if embed.title else "", embed.description) if part
    )
    thumbnail = _url(embed.thumbnail.url)
    if thumbnail:
        text = discord.ui.TextDisplay[discord.ui.LayoutView](_cut(head or "\u200b"))
        container.add_item(discord.ui.Section(text, accessory=discord.ui.Thumbnail(thumbnail)))
    elif head:
        container.add_item(discord.ui.TextDisplay(_cut(head)))
    for field in embed.fields:  # one display each: a bold name over its value
        container.add_item(discord.ui.TextDisplay(_cut(f"**{field.name}**\n{field.value}")))
    image = _url(embed.image.url)
    if image:
        container.add_item(_gallery([image]))
    foot = _footer(embed.footer.text, embed.timestamp)
    if foot:
        container.add_item(discord.ui.TextDisplay(_cut(foot)))
    return container


def _footer(text: str | None, at: datetime | None) -> str:
    parts = [text or "", f"<t:{int(at.timestamp())}:f>" if at is not None else ""]
    joined = " · ".join(part for part in parts if part)
    return f"-# {joined}" if joined else ""


def _gallery(urls: Iterable[str]) -> discord.ui.MediaGallery[discord.ui.LayoutView]:
    gallery: discord.ui.MediaGallery[discord.ui.LayoutView] = discord.ui.MediaGallery()
    for url in urls:
        gallery.add_item(media=url)
    return gallery


def _rows(
    items: Sequence[discord.ui.Item[discord.ui.View]],
) -> list[discord.ui.ActionRow[discord.ui.LayoutView]]:
    rows: list[discord.ui.ActionRow[discord.ui.LayoutView]] = []
    for start in range(0, len(items), ROW_WIDTH):
        row: discord.ui.ActionRow[discord.ui.LayoutView] = discord.ui.ActionRow()
        for item in items[start : start + ROW_WIDTH]:
            row.add_item(item)
        rows.append(row)
    return rows


def _url(value: str | None) -> str:
    return value or ""


def _cut(text: str) -> str:
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - 1] + "…"
