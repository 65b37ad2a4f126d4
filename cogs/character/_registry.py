"""The character cog of each bot, for its buttons and forms that outlive their view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.shared.per_bot import PerBot

if TYPE_CHECKING:
    from cogs.character._cog import CharacterCog

CHARACTER_COG: PerBot[CharacterCog] = PerBot("the character cog")
