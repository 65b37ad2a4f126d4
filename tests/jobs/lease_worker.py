"""One bot process without Discord, for the multi-process lease test.

    python -m tests.jobs.lease_worker DATABASE_URL TOAPIS_URL INDEX JOBS LOG

Opens the core on the shared PostgreSQL schema against the toapis simulator, submits
JOBS character jobs at once (they wait in the submit line), follows them (and any it
takes over) until SIGTERM. Every status query, every card and the submitted job ids are
written to LOG as JSON lines. The toapis budgets are `SUBMITS` and `QUERIES` per second,
for all the processes together (the simulator enforces the same figures).

Test only: with ``SORA_TEST_CLOCK_SHIFT=60`` in its environment the worker's host clock
(``time.time``) runs that many seconds ahead, as on a machine whose clock is skewed. The
bot itself never reads this variable.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bot.domain.records import Character, Job, NewJob, SourceKind
from bot.jobs.events import NullListener
from bot.jobs.timings import TrackerTimings
from bot.providers.base import CharacterRequest, Task
from bot.runtime.config import Settings
from bot.runtime.container import open_core

LEASE = 3.0
SUBMITS = 20.0  # per second, and ten times that per 10 s
QUERIES = 60.0
REQUESTER = 100  # the requester of worker 0's jobs (worker i: REQUESTER + i)
CLOCK_SHIFT = "SORA_TEST_CLOCK_SHIFT"  # seconds this worker's host clock runs ahead


def shift_clock() -> None:
    """Move this process's `time.time` ahead by ``SORA_TEST_CLOCK_SHIFT`` seconds, if set."""
    shift = float(os.environ.get(CLOCK_SHIFT) or 0)
    if shift:
        host = time.time
        time.time = lambda: host() + shift


class Log:
    """Appends one JSON object per line, flushed at once (the process may be killed)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        fields.update(ev=event, pid=os.getpid(), t=time.time())
        self._file.write(json.dumps(fields) + "\n")
        self._file.flush()


class CardLog(NullListener):
    """Records every card this process posts."""

    def __init__(self, log: Log) -> None:
        self.log = log

    async def character_ready(self, job: Job, character: Character) -> None:
        self.log.write("card", job=job.id, character=character.character_id)


async def main(url: str, toapis: str, index: int, count: int, log_path: Path) -> None:
    log = Log(log_path)
    settings = Settings(
        _env_file=None,
        database_url=url,
        database_pool_size=6,
        toapis_api_key="sim-key",
        toapis_base_url=toapis,
        allow_private_urls=True,
        lease_seconds=LEASE,
        toapis_submit_per_second=SUBMITS,
        toapis_query_per_second=QUERIES,
    )
    timings = TrackerTimings(
        poll_interval=0.2,
        timeout=60,
        sweep_interval=1.0,
        sweep_retry=1.0,
        lease=LEASE,
        expected_duration=3.0,
    )
    core = await open_core(settings, CardLog(log), timings=timings)
    query = core.provider.get_task

    async def logged_query(task_id: str) -> Task:
        log.write("poll", task=task_id)
        return await query(task_id)

    core.provider.get_task = logged_query  # type: ignore[method-assign]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await core.tracker.start()

        async def submit(n: int) -> int:
            url_n = f"https://example.com/p{index}-{n}.mp4"
            new = NewJob(
                guild_id=1,
                source_kind=SourceKind.URL,
                source_ref=url_n,
                range_start=1,
                range_end=3,
                model="sora-2",
                channel_id=10,
                message_id=11,
                requester_id=REQUESTER + index,
            )
            job = await core.tracker.submit(new, CharacterRequest(start=1, end=3, url=url_n))
            return job.id

        ids = await asyncio.gather(*(submit(n) for n in range(count)))
        log.write("submitted", jobs=list(ids), owner=core.tracker.owner)
        await stop.wait()
    finally:
        await core.close()


if __name__ == "__main__":
    database, toapis_url, who, jobs, where = sys.argv[1:6]
    shift_clock()
    asyncio.run(main(database, toapis_url, int(who), int(jobs), Path(where)))
