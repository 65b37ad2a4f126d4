"""Telling the other processes of the bot what changed.

With PostgreSQL several processes share one database, and each caches guild settings and
the owner's controls; a change made in one is published (`storage.postgres.notices`) and the others
forget that entry. A job outcome stored by a process that does not follow the job (a
webhook reached it) is published too, so the process following it announces it at once.
With SQLite there is one process and nothing to tell.
"""

from __future__ import annotations

from typing import Protocol

GUILD_SETTINGS = "guild_settings"  # key: the guild id
OWNER = "owner"  # key: none
JOB_OUTCOME = "job_outcome"  # key: the job id; stored by a process that does not hold it


class ChangePublisher(Protocol):
    """Where a change is announced (`storage.postgres.notices.ChangeNotices`)."""

    async def publish(self, topic: str, key: str = "") -> None:
        """Tell the other processes that `key` of `topic` changed."""
        ...
