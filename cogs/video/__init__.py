"""The `video` command group: videos starring this server's characters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.video._cog import VideoCog

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot


async def setup(bot: SoraBot) -> None:
    """Load the extension (after `cogs.character`, whose offers it uses)."""
    await bot.add_cog(VideoCog(bot))
