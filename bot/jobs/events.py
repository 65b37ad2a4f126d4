"""Who hears about jobs: the listener protocol, a no-op listener and a fan-out hub.

The tracker writes every change to storage first, then tells its listener; fronts (the
Discord cogs, the CLI, tests) implement `JobListener` and register with `ListenerHub`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from bot.domain.records import Character, Job
from bot.jobs.submit_line import Place

# The events about one job that need nothing but the job (`character_ready` also takes
# the character, `job_in_line` the place).
JobEvent = Literal["job_changed", "job_stalled", "job_failed", "video_ready", "job_unknown"]
Tell = Callable[[JobEvent, Job], Awaitable[None]]  # tells the listener an event


class JobListener(Protocol):
    """Who hears about jobs: the Discord front, the CLI, tests. A front that has no use
    for an event (videos, places in line) subclasses `NullListener`, which ignores it."""

    async def job_changed(self, job: Job) -> None:
        """State or progress changed (already stored)."""

    async def job_stalled(self, job: Job) -> None:
        """The job passed its timeout; it is still running at the service."""

    async def character_ready(self, job: Job, character: Character) -> None:
        """A character is stored; announce it (called once per character)."""

    async def character_bound(self, job: Job, character: Character) -> None:
        """A binding job ended: `character`'s engines changed (its card shows them)."""

    async def job_failed(self, job: Job) -> None:
        """The job ended without a character; `job.error_message` says why."""

    async def video_ready(self, job: Job) -> None:
        """A video job completed; `job.result` holds its video URLs (valid 24 hours)."""

    async def job_unknown(self, job: Job) -> None:
        """The process died while submitting: the task may or may not exist."""

    async def job_in_line(self, job: Job, place: Place) -> None:
        """A queued job's place in the submit line changed."""


def handler(listener: JobListener, event: JobEvent) -> Callable[[Job], Awaitable[None]]:
    """The listener's method for `event`."""
    handlers: dict[JobEvent, Callable[[Job], Awaitable[None]]] = {
        "job_changed": listener.job_changed,
        "job_stalled": listener.job_stalled,
        "job_failed": listener.job_failed,
        "video_ready": listener.video_ready,
        "job_unknown": listener.job_unknown,
    }
    return handlers[event]


class NullListener:
    """A listener that ignores everything: the base of listeners that hear only some events."""

    async def job_changed(self, job: Job) -> None:
        """Ignore."""

    async def job_stalled(self, job: Job) -> None:
        """Ignore."""

    async def character_ready(self, job: Job, character: Character) -> None:
        """Ignore."""

    async def character_bound(self, job: Job, character: Character) -> None:
        """Ignore."""

    async def job_failed(self, job: Job) -> None:
        """Ignore."""

    async def video_ready(self, job: Job) -> None:
        """Ignore."""

    async def job_unknown(self, job: Job) -> None:
        """Ignore."""

    async def job_in_line(self, job: Job, place: Place) -> None:
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

    async def character_bound(self, job: Job, character: Character) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.character_bound(job, character)

    async def job_failed(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_failed(job)

    async def video_ready(self, job: Job) -> None:
        """Tell every listener (those without videos ignore it)."""
        for listener in list(self.listeners):
            await listener.video_ready(job)

    async def job_unknown(self, job: Job) -> None:
        """Tell every listener."""
        for listener in list(self.listeners):
            await listener.job_unknown(job)

    async def job_in_line(self, job: Job, place: Place) -> None:
        """Tell every listener (those that show no places ignore it)."""
        for listener in list(self.listeners):
            await listener.job_in_line(job, place)
