"""Event-loop lag, sampled by a small task into `metrics.EVENT_LOOP_LAG` (`/metrics`).

Every `interval` seconds the task sleeps and records how much later than asked it woke:
the time some other callback held the loop (a blocking call, a long burst of work).
"""

from __future__ import annotations

import asyncio

from bot import metrics
from bot.stopping import cancel_and_wait

INTERVAL_SECONDS = 0.25


class LoopLagSampler:
    """Start it on the running loop; `stop` it when the process stops."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample from now on (once; a second call does nothing)."""
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        """Stop sampling."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            metrics.EVENT_LOOP_LAG.observe(max(0.0, loop.time() - asked))
