"""Stopping background tasks without swallowing the stopper's own cancellation.

`task.cancel(); with suppress(CancelledError): await task` cannot tell the task's
cancellation from the caller's: a caller cancelled while it waits (by `asyncio.timeout`,
a `TaskGroup`, a shutdown) carries on as if nothing happened, and whoever cancelled it
waits forever. These helpers wait with `asyncio.wait`, which never raises the task's
outcome, so a `CancelledError` out of the wait is always the caller's own.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_until_done(task: asyncio.Future[Any]) -> None:
    """Wait until `task` ends, without cancelling it.

    A cancelled `task` is fine; an exception it ended with is raised here. If the caller
    is cancelled meanwhile, its `CancelledError` propagates and `task` runs on.
    """
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()


async def cancel_and_wait(task: asyncio.Future[Any] | None) -> None:
    """Cancel `task` (if any) and wait until it has ended.

    An exception the task ended with (other than its cancellation) is raised here; the
    caller's own cancellation propagates even if it arrives while waiting.
    """
    if task is None:
        return
    task.cancel()
    await wait_until_done(task)


__all__ = ["cancel_and_wait", "wait_until_done"]
