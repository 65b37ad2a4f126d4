"""Announcing final outcomes: tell the listener, retrying with backoff, then record it.

Every outcome is stored before it is announced; each announcement is recorded once made,
so a restart (or the sweeper) announces only what was not announced yet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from bot.domain.records import Job, JobKind, JobState
from bot.jobs.events import JobEvent, JobListener, handler
from bot.jobs.submit_line import Place
from bot.jobs.timings import TrackerTimings, announce_backoff
from storage import CharacterRepository, JobRepository

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _JobLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # callers holding or awaiting `lock`


class Announcer:
    """Tells `listener` about jobs; retries final announcements a few times."""

    def __init__(
        self,
        jobs: JobRepository,
        characters: CharacterRepository,
        listener: JobListener,
        timings: TrackerTimings,
    ) -> None:
        self.jobs = jobs
        self.characters = characters
        self.listener = listener
        self.timings = timings
        # One lock per job being announced, with how many callers hold or await it; it
        # goes when the last leaves (a waiter not yet woken still counts, so a caller
        # arriving then finds the same lock, never a second one).
        self._locks: dict[int, _JobLock] = {}
        # Called once a completed job's cards are out (binding its characters further).
        self.after_cards: Callable[[Job], Awaitable[None]] | None = None
        # Called once a failed job is announced (a likeness it kept is let go).
        self.after_failure: Callable[[Job], Awaitable[None]] | None = None

    async def announce(self, job: Job) -> None:
        """Announce a final job's outcome unless that was done already.

        One announcement per job at a time (polling, a webhook and the sweeper may all
        arrive at once), re-read from storage inside, so nothing is announced twice.
        """
        held = self._locks.setdefault(job.id, _JobLock())
        held.users += 1
        try:
            async with held.lock:
                fresh = await self.jobs.get(job.id)
                await self._announce_once(fresh or job)
        finally:
            held.users -= 1
            if not held.users:
                del self._locks[job.id]

    async def _announce_once(self, job: Job) -> None:
        if job.announced_at is not None:
            return
        if job.kind is JobKind.LIKENESS:
            if job.state is JobState.FAILED and self.after_failure is not None:
                await self.after_failure(job)  # its bindings say why, on the card too
            await self._announce_binding(job)
        elif job.state is JobState.COMPLETED and job.kind is JobKind.VIDEO:
            await self.deliver(job, partial(self.listener.video_ready, job))
        elif job.state is JobState.COMPLETED:
            made = await self.characters.unannounced_for_job(job.id)
            for character in made:
                await self.deliver(job, partial(self.listener.character_ready, job, character))
                await self.characters.mark_announced(character.id, job_id=job.id)
            if self.after_cards is not None:
                await self.after_cards(job)
        elif job.state is JobState.FAILED:
            await self.deliver(job, partial(self.listener.job_failed, job))
            if self.after_failure is not None:
                await self.after_failure(job)
        elif job.state is JobState.UNKNOWN:
            await self.deliver(job, partial(self.listener.job_unknown, job))
        else:
            return
        await self.jobs.mark_announced(job.id)

    async def _announce_binding(self, job: Job) -> None:
        """A binding job ended: its character's card shows the engines now (whatever came
        of it: refusals are on the card too)."""
        row = job.request.get("character")
        character = await self.characters.get_row(int(row)) if row is not None else None
        if character is not None and job.state.is_final:
            await self.deliver(job, partial(self.listener.character_bound, job, character))

    async def deliver(self, job: Job, tell: Callable[[], Awaitable[None]]) -> None:
        """Tell the listener (`tell` calls it once), retrying a few times with backoff
        (Discord may be down).

        If it still fails, the error propagates: the outcome stays unannounced in storage
        and is announced again later.
        """
        attempts = self.timings.announce_attempts
        for attempt in range(1, attempts + 1):
            try:
                await tell()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == attempts:
                    raise
                delay = announce_backoff(self.timings, attempt)
                log.warning(
                    "job %d: announcing failed (%s); retry %d/%d in %.0fs",
                    job.id,
                    type(exc).__name__,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)

    async def tell_place(self, job: Job, place: Place) -> None:
        """A queued job's place in line changed: tell listeners that show places."""
        await self.listener.job_in_line(job, place)

    async def tell(self, event: JobEvent, job: Job) -> None:
        """Tell the listener about a change; its failure is logged, never raised."""
        try:
            await handler(self.listener, event)(job)
        except Exception:
            log.exception("job %d: listener failed on %s", job.id, event)
