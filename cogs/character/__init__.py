"""The `character` command group: create, list (and the listener that shows jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.character._cog import CharacterCog

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(CharacterCog(bot))
