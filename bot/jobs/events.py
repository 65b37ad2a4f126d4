"""Who hears about jobs: the listener protocol, a no-op listener and a fan-out hub.

The tracker writes every change to storage first, then tells its listener; fronts (the
Discord cogs, the CLI, tests) implement `JobListener` and register with `ListenerHub`.
"""

from __future__ import annotations

from typing import Protocol

from bot.domain.records import Character, Job
from bot.jobs.line import Place


class JobListener(Protocol):
    """Who hears about jobs: the Discord front, the CLI, tests."""

    async def job_changed(self, job: Job) -> None:
        """State or progress changed (already stored)."""

    async def job_stalled(self, job: Job) -> None:
        """The job passed its timeout; it is still running at the service."""

    async def character_ready(self, job: Job, character: Character) -> None:
        """A character is stored; announce it (called once per character)."""

    async def job_failed(self, job: Job) -> None:
        """The job ended without a character; `job.error_message` says why."""

    # Optional: `async def video_ready(self, job: Job) -> None`, a video job completed and
    # `job.result` holds its video URLs (valid 24 hours). Fronts without videos omit it.

    async def job_unknown(self, job: Job) -> None:
        """The process died while submitting: the task may or may not exist."""


class NullListener:
    """A listener that ignores everything."""

    async def job_changed(self, job: Job) -> None:
        """Ignore."""

    async def job_stalled(self, job: Job) -> None:
        """Ignore."""

    async def character_ready(self, job: Job, character: Character) -> None:
        """Ignore."""

    async def job_failed(self, job: Job) -> None:
        """Ignore."""

    async def video_ready(self, job: Job) -> None:
        """Ignore."""

    async def job_unknown(self, job: Job) -> None:
        """Ignore."""


class ListenerHub(NullListener):
    """Fans every event out to the listeners registered now (fronts add themselves)."""

    def __init__(self) -> None:
        self.listeners: list[JobListener] = []

    def add(self, listener: JobListener) -> None:
        """Start telling `listener`."""
        self.listeners.append(listener)

    def remove(self, listener: JobListener) -> None:
        """Stop telling `listener`."""
        if listener in self.listeners:
            self.listeners.remove(listener)

    async def job_changed(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_changed(job)

    async def job_stalled(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_stalled(job)

    async def character_ready(self, job: Job, character: Character) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.character_ready(job, character)

    async def job_failed(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_failed(job)

    async def video_ready(self, job: Job) -> None:
        """Tell every listener that shows videos (the method is optional)."""
        for listener in list(self.listeners):
            shown = getattr(listener, "video_ready", None)
            if shown is not None:
                await shown(job)

    async def job_unknown(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_unknown(job)

    async def job_in_line(self, job: Job, place: Place) -> None:
        """Tell every listener that shows places in line (the method is optional)."""
        for listener in list(self.listeners):
            shown = getattr(listener, "job_in_line", None)
            if shown is not None:
                await shown(job, place)
