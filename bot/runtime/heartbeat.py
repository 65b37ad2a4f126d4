"""The heartbeat file: touched every interval while the bot is connected to Discord.

The Discord bot calls `connected()` on READY/RESUMED and `disconnected()` when the
gateway drops; while connected the file's modification time is renewed every `interval`
seconds. `python -m bot doctor --quick` (the Docker HEALTHCHECK) reads its age with `age()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path

from bot.stopping import cancel_and_wait

log = logging.getLogger(__name__)

STALE_AFTER_BEATS = 3  # `doctor --quick` fails once the file is older than 3 intervals


class Heartbeat:
    """Touches `path` every `interval` seconds while connected; removes it on `stop()`."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.connected_now = False
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    def connected(self) -> None:
        """The gateway is up (READY or RESUMED): beat now and keep beating."""
        self.connected_now = True
        self.beat()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="heartbeat")

    def disconnected(self) -> None:
        """The gateway dropped: stop renewing the file (it goes stale on its own)."""
        self.connected_now = False

    def beat(self) -> None:
        """Renew the file (its content is the pid, for people looking at it)."""
        try:
            self.path.write_text(f"{os.getpid()}\n")
            self._failed = False
        except OSError as exc:
            if not self._failed:  # say it once, not every 30 s
                log.warning("cannot write the heartbeat file %s: %s", self.path, exc)
            self._failed = True

    async def stop(self) -> None:
        """Stop beating and remove the file: a stopped bot is not healthy."""
        self.connected_now = False
        task, self._task = self._task, None
        try:
            await cancel_and_wait(task)
        finally:  # even if the caller is cancelled meanwhile
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.connected_now:
                self.beat()


def age(path: Path, now: float | None = None) -> float | None:
    """Seconds since `path` was last touched, or None when it does not exist."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return max(0.0, (time.time() if now is None else now) - modified)
