"""One of two processes reserving jobs at the same moment (tests/storage/test_reservations.py).

Usage: python reserve_worker.py POSTGRES_URL START_TIME. Prints how many of its
reservations were made, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.domain.records import Job, NewJob, Quota, SourceKind
from storage import JobRepository, open_database


def job(guild_id: int, requester_id: int) -> NewJob:
    return NewJob(
        guild_id=guild_id,
        source_kind=SourceKind.URL,
        source_ref="https://example.com/v.mp4",
        range_start=1,
        range_end=2,
        model="sora-2",
        requester_id=requester_id,
    )


async def main(url: str, start: float) -> None:
    db = await open_database(url, pool_size=6)
    try:
        jobs = JobRepository(db)
        since = time.time() - 60
        member = Quota(since=since, at_once=2, member_day=9, server_day=9)
        # The cap counts every server's jobs: the two of the first burst, and 3 more.
        capped = Quota(since=since, at_once=9, member_day=9, server_day=9, global_day=5)
        await asyncio.sleep(max(0.0, start - time.time()))
        outcomes = await asyncio.gather(*(jobs.reserve(job(1, 100), member) for _ in range(6)))
        await asyncio.sleep(max(0.0, start + 1.5 - time.time()))  # both processes are done
        outcomes += await asyncio.gather(
            *(jobs.reserve(job(10 + n, 200 + n), capped) for n in range(6))
        )
    finally:
        await db.close()
    made = [isinstance(outcome, Job) for outcome in outcomes]
    print(json.dumps({"member": sum(made[:6]), "capped": sum(made[6:])}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
