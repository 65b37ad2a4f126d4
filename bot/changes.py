"""Telling the other processes of the bot what changed, so they drop what they cached.

With PostgreSQL several processes share one database, and each caches guild settings and
the owner's controls; a change made in one is published (`storage.notices`) and the others
forget that entry. With SQLite there is one process and nothing to tell.
"""

from __future__ import annotations

from typing import Protocol

GUILD_SETTINGS = "guild_settings"  # key: the guild id
OWNER = "owner"  # key: none


class ChangePublisher(Protocol):
    """Where a change is announced (`storage.notices.ChangeNotices`)."""

    async def publish(self, topic: str, key: str = "") -> None:
        """Tell the other processes that `key` of `topic` changed."""
        ...
