"""A contact sheet for `/character list`: the page's avatars in a grid, each with its name,
drawn by the bot (one PNG, the list's media gallery shows it: up to ten faces in one
image). Blocking: run it in a thread."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

TILE = 128  # px of each avatar
LABEL = 22  # px under each avatar for its name
COLUMNS = 5
GAP = 8
BACKGROUND = (43, 45, 49)  # Discord's dark theme, so the sheet sits well in a message
NAME_COLOUR = (242, 243, 245)
PLACEHOLDER = (88, 101, 242)
SHEET_NAME = "characters.png"


def _avatar(data: bytes | None) -> Image.Image:
    """The avatar as a square tile; a plain tile when there is none or it cannot be read."""
    if data:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                image = opened.convert("RGB")
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            return image.crop((left, top, left + side, top + side)).resize((TILE, TILE))
        except (UnidentifiedImageError, OSError, ValueError):
            pass
    return Image.new("RGB", (TILE, TILE), PLACEHOLDER)


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _fit(draw: ImageDraw.ImageDraw, name: str, font: Font) -> str:
    """`name` cut with an ellipsis to the tile's width."""
    if draw.textlength(name, font=font) <= TILE:
        return name
    while name and draw.textlength(name + "…", font=font) > TILE:
        name = name[:-1]
    return name + "…"


def contact_sheet(tiles: list[tuple[str, bytes | None]]) -> bytes:
    """A PNG of up to 10 (name, avatar bytes) tiles, five to a row."""
    count = max(1, len(tiles))
    columns = min(COLUMNS, count)
    rows = -(-count // COLUMNS)
    width = columns * TILE + (columns + 1) * GAP
    height = rows * (TILE + LABEL) + (rows + 1) * GAP
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for index, (name, avatar) in enumerate(tiles):
        row, column = divmod(index, COLUMNS)
        x = GAP + column * (TILE + GAP)
        y = GAP + row * (TILE + LABEL + GAP)
        sheet.paste(_avatar(avatar), (x, y))
        draw.text((x, y + TILE + 3), _fit(draw, name, font), fill=NAME_COLOUR, font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG", optimize=True)
    return out.getvalue()
