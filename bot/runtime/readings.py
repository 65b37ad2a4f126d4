"""What the HTTP side reads of the running bot (`bot.http.server.Readings`), from the
container of services."""

from __future__ import annotations

from bot.domain.records import JobState
from bot.runtime.container import Core


class CoreReadings:
    """`/health` and `/metrics` readings from the services of one process."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def ping_database(self) -> None:
        """Raise when the database does not answer."""
        await self._core.database.ping()

    async def job_counts(self) -> dict[JobState, int]:
        """Jobs in each state."""
        return await self._core.jobs.count_by_state()

    async def unannounced_jobs(self) -> int:
        """Finished jobs whose outcome was not shown yet."""
        return await self._core.jobs.count_unannounced()

    async def characters(self) -> int:
        """Characters kept, every server."""
        return await self._core.characters.count_all()

    def queue_length(self) -> int:
        """Jobs in the submit line."""
        return len(self._core.tracker.line)
