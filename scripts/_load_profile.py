"""Opt-in profiling of `bench_load.py`'s bot process in the window where every job waits.

`BENCH_PROFILE=/some/prefix` writes `prefix-<mode>.prof` (cProfile over that window, read
with `python -m pstats`); `BENCH_TRACEMALLOC=/some/prefix` writes `prefix-<mode>.txt`
(the allocations that grew between the start of the run and the window, by line). With
`BENCH_PROFILE_RUN=1` the profile covers the whole run instead of that window (for 45 s
tasks, which have none). Both slow the bot down, so their runs' figures are not the
benchmark's.
"""

from __future__ import annotations

import cProfile
import os
import tracemalloc
from typing import Any


class WindowProfile:
    """Profiles (and/or snapshots memory) from `start` to `stop`; does nothing unless asked."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.profile_to = os.environ.get("BENCH_PROFILE")
        self.memory_to = os.environ.get("BENCH_TRACEMALLOC")
        self.whole_run = os.environ.get("BENCH_PROFILE_RUN") == "1"
        self._profiler: cProfile.Profile | None = None
        self._base: Any = None
        self._done = False
        if self.memory_to:
            tracemalloc.start(8)
            self._base = tracemalloc.take_snapshot()

    def begin_run(self) -> None:
        """The jobs are about to be created."""
        if self.whole_run:
            self.whole_run = False  # `start` now starts, and the window's `stop` is ignored
            self.start()
            self.whole_run = True

    def end_run(self) -> None:
        """Every card is in."""
        self.whole_run = False
        self.stop()

    def start(self) -> None:
        """The window opened (every job created, none completed)."""
        if self.whole_run:
            return
        if self.profile_to and self._profiler is None and not self._done:
            self._profiler = cProfile.Profile()
            self._profiler.enable()

    def stop(self) -> None:
        """The window closed: write what was asked for (once)."""
        if self._done or self.whole_run:
            return
        self._done = True
        if self._profiler is not None:
            self._profiler.disable()
            self._profiler.dump_stats(f"{self.profile_to}-{self.mode}.prof")
        if self.memory_to and self._base is not None:
            snapshot = tracemalloc.take_snapshot()
            lines = []
            for key in ("lineno", "traceback"):
                stats = snapshot.compare_to(self._base, key)[:40]
                lines.append(f"--- top growth by {key} ---")
                for stat in stats:
                    lines.append(str(stat))
                    if key == "traceback":
                        lines.extend("    " + line for line in stat.traceback.format()[-8:])
            with open(f"{self.memory_to}-{self.mode}.txt", "w") as out:
                out.write("\n".join(lines) + "\n")
            tracemalloc.stop()
