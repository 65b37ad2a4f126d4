"""Bounded thread pools for blocking media work, with a visible line.

Cuts, probes and page downloads block a thread for seconds. They run here, each kind on
its own pool, never on asyncio's default pool (which resolves names for aiohttp and
httpx) and never on the event loop. A pool admits at most `workers` jobs at once; the
others wait in line, first come first served, and are told how many are ahead of them so
the member's reply can say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# Called with the number of jobs ahead whenever it changes while waiting for a worker,
# then with None when the job's turn has come (only if it had to wait).
LineWatcher = Callable[[int | None], Awaitable[None] | None]

PAGE_DOWNLOAD_WORKERS = 3


def default_media_workers() -> int:
    """One worker per CPU the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(eq=False)
class _Ticket:
    watcher: LineWatcher | None
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    told: int | None = None


class WorkerPool:
    """A thread pool of `workers` threads with a first-come line in front of it."""

    def __init__(self, workers: int, name: str) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = workers
        self.name = name
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._line: list[_Ticket] = []
        self._busy = 0

    @property
    def busy(self) -> int:
        """Jobs running on a worker right now."""
        return self._busy

    @property
    def waiting(self) -> int:
        """Jobs waiting in line for a worker."""
        return len(self._line)

    async def start(
        self, work: Callable[[], T], *, watcher: LineWatcher | None = None
    ) -> asyncio.Future[T]:
        """Wait for this caller's turn, then start `work` on a worker.

        The worker counts as busy until `work` returns, even if the caller stops waiting
        for it (a thread cannot be killed).
        """
        await self._admit(watcher)
        try:
            future = asyncio.get_running_loop().run_in_executor(self._executor, work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return future

    async def run(
        self,
        work: Callable[[], T],
        *,
        cancel: threading.Event | None = None,
        watcher: LineWatcher | None = None,
    ) -> T:
        """Run `work` on a worker once it is this caller's turn.

        While waiting, `watcher` hears how many jobs are ahead. If the caller is
        cancelled while `work` runs, `cancel` is set and the worker is waited for, so
        nothing the work owns is left behind.
        """
        future = await self.start(work, watcher=watcher)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.set()
            await asyncio.wait([future])
            if not future.cancelled():
                future.exception()  # retrieved: a cancelled caller has no use for it
            raise

    def _release(self) -> None:
        self._busy -= 1
        self._advance()

    async def _admit(self, watcher: LineWatcher | None) -> None:
        if not self._line and self._busy < self.workers:
            self._busy += 1
            return
        ticket = _Ticket(watcher)
        self._line.append(ticket)
        try:
            while True:
                ahead = self._line.index(ticket)
                if ahead == 0 and self._busy < self.workers:
                    self._line.pop(0)
                    self._busy += 1
                    self._advance()
                    break
                if ticket.watcher is not None and ticket.told != ahead:
                    ticket.told = ahead
                    await _tell(ticket.watcher, ahead)
                    continue  # the line may have moved while we were telling
                ticket.moved.clear()
                await ticket.moved.wait()
        except BaseException:
            if ticket in self._line:
                self._line.remove(ticket)
                self._advance()
            raise
        if ticket.watcher is not None:
            try:
                await _tell(ticket.watcher, None)
            except BaseException:
                self._release()
                raise

    def _advance(self) -> None:
        """Wake every waiter: the line moved or a worker became free."""
        for ticket in self._line:
            ticket.moved.set()

    def shutdown(self) -> None:
        """Stop taking work; running work finishes on its own."""
        self._executor.shutdown(wait=False, cancel_futures=True)


async def _tell(watcher: LineWatcher, ahead: int | None) -> None:
    """Report a place in line; a failing watcher never costs the job its place."""
    with contextlib.suppress(Exception):
        result = watcher(ahead)
        if inspect.isawaitable(result):
            await result


@dataclass
class MediaWorkers:
    """The pools media intake draws from: cuts and probes, and page downloads."""

    media: WorkerPool
    pages: WorkerPool

    @classmethod
    def create(cls, media_workers: int | None = None) -> MediaWorkers:
        """Pools sized from settings (`MEDIA_WORKERS`, default one per CPU)."""
        return cls(
            media=WorkerPool(media_workers or default_media_workers(), "media"),
            pages=WorkerPool(PAGE_DOWNLOAD_WORKERS, "page-download"),
        )

    def shutdown(self) -> None:
        """Stop both pools."""
        self.media.shutdown()
        self.pages.shutdown()
