"""The sweeper: jobs whose follow-up task crashed are followed again, with backoff.

A job task can end with work left (database locked past the busy timeout, disk full, an
announcement that failed every retry while Discord was down). Its state is in storage, so
the sweeper periodically looks for unfinished or unannounced jobs that have no running
task and hands them back to the tracker, waiting longer after each crash of the same job.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from bot.domain.records import Job
from bot.jobs.timings import TrackerTimings

log = logging.getLogger(__name__)


class Sweeper:
    """Decides when a job left without a task is followed again."""

    def __init__(
        self,
        *,
        active: Callable[[], Awaitable[list[Job]]],
        running: Callable[[int], bool],
        spawn: Callable[[Job], None],
        timings: Callable[[], TrackerTimings],
        clock: Callable[[], float],
    ) -> None:
        self._active = active
        self._running = running
        self._spawn = spawn
        self._timings = timings
        self._clock = clock
        self._crashes: dict[int, int] = {}  # job id -> crashes in a row
        self._due: dict[int, float] = {}  # job id -> earliest time to follow it again
        self.rounds = 0  # completed sweeps (tests wait on it)

    def crashed(self, job_id: int) -> float:
        """Record that the job's task ended with work left; returns the wait before a retry."""
        timings = self._timings()
        crashes = self._crashes.get(job_id, 0) + 1
        self._crashes[job_id] = crashes
        delay = float(
            min(timings.sweep_max_backoff, timings.sweep_retry * 2 ** min(crashes - 1, 20))
        )
        delay *= random.uniform(1.0, 1.2)
        self._due[job_id] = self._clock() + delay
        return delay

    def finished(self, job_id: int) -> None:
        """The job's task ended with nothing left to do."""
        self._crashes.pop(job_id, None)
        self._due.pop(job_id, None)

    async def sweep(self) -> list[int]:
        """Follow again every job that has work left, no task and no pending wait; forget
        the crashes of jobs that ended meanwhile."""
        now = self._clock()
        waiting = set(self._crashes) | set(self._due)  # before the query: see below
        active = await self._active()
        # A job that crashed here may end elsewhere (cancelled, its webhook event, another
        # process): no longer active, it is forgotten here (a crash recorded during the
        # query is kept, its job may be too new for the answer).
        for job_id in waiting - {job.id for job in active}:
            self.finished(job_id)
        picked: list[int] = []
        for job in active:
            if self._running(job.id) or self._due.get(job.id, now) > now:
                continue
            log.info(
                "job %d: following it (its task ended with work left, or it was taken over)", job.id
            )
            self._spawn(job)
            picked.append(job.id)
        return picked

    async def run(self) -> None:
        """Sweep every `sweep_interval` seconds until cancelled; errors are logged."""
        while True:
            await asyncio.sleep(self._timings().sweep_interval)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sweeping for jobs left without a task failed")
            self.rounds += 1
