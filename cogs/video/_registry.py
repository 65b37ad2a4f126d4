"""The video cog of each bot, for its buttons that outlive their view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.shared.per_bot import PerBot

if TYPE_CHECKING:
    from cogs.video._cog import VideoCog

VIDEO_COG: PerBot[VideoCog] = PerBot("the video cog")
