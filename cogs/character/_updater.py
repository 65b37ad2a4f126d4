"""Keeping one Discord message showing the newest state, never a backlog of stale edits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.stopping import cancel_and_wait
from cogs.shared.render import Rendered

log = logging.getLogger(__name__)

Edit = Callable[[Rendered], Awaitable[None]]
# Waits for a write slot of a shared budget; True for a final state (sent first).
Gate = Callable[[bool], Awaitable[None]]


class MessageUpdater:
    """Sends the latest `Rendered` to one message, at most once per `min_interval`.

    A newer state replaces one still waiting; an identical state is not sent again.
    Progress edits are best effort; `send_now` is for final states and raises on failure.
    """

    def __init__(self, edit: Edit, *, min_interval: float = 3.0, gate: Gate | None = None) -> None:
        self._edit = edit
        self._gate = gate
        self.min_interval = min_interval
        self._pending: Rendered | None = None
        self._last_key: tuple[object, ...] | None = None
        self._last_sent = float("-inf")
        self._worker: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def push(self, rendered: Rendered) -> None:
        """Show `rendered` soon (replacing any state not sent yet)."""
        if rendered.key() == self._last_key:
            self._pending = None
            return
        self._pending = rendered
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())

    async def send_now(self, rendered: Rendered) -> None:
        """Drop pending progress and send `rendered` right away (raises on failure)."""
        self._pending = None
        await self.cancel()
        if self._gate is not None:
            await self._gate(True)
        async with self._lock:
            await self._edit(rendered)
            self._last_key = rendered.key()
            self._last_sent = time.monotonic()

    async def cancel(self) -> None:
        """Stop the worker (pending state is dropped)."""
        worker, self._worker = self._worker, None
        if worker is not asyncio.current_task():
            await cancel_and_wait(worker)

    async def _run(self) -> None:
        while self._pending is not None:
            wait = self._last_sent + self.min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._gate is not None:
                await self._gate(False)  # newer states keep replacing the pending one
            rendered, self._pending = self._pending, None
            if rendered is None or rendered.key() == self._last_key:
                continue
            async with self._lock:
                try:
                    await self._edit(rendered)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # progress is best effort; the next state retries
                    log.warning("progress edit failed: %s", exc)
                    continue
                finally:
                    self._last_sent = time.monotonic()
                self._last_key = rendered.key()
