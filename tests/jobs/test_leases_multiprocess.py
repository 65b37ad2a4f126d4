"""Three bot processes (no Discord) share one PostgreSQL schema; one is killed mid-run.

Every job completes once (one character row each, one card each), the killed process's
jobs are taken over within about one lease, and no job is polled by two processes at once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bot.records import JobState
from bot.simulator import Simulator
from storage import Database
from tests.jobs.lease_worker import LEASE
from tests.storage.backends import postgres_schema, skip_without_postgres

PROCESSES = 3
JOBS_EACH = 4
ROOT = Path(__file__).resolve().parents[2]


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by SIGKILL
            continue
    return out


async def until(check: Any, what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await check() if asyncio.iscoroutinefunction(check) else check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_killed_process_jobs_are_taken_over_once(
    simulator: Simulator, tmp_path: Path
) -> None:
    skip_without_postgres()
    # Tasks run about 4 s at toapis: the kill lands while they are queued or running.
    simulator.scenario.update(check_media=False, queued_for=1.0, step_interval=0.8)
    logs = [tmp_path / f"worker-{i}.jsonl" for i in range(PROCESSES)]
    async with postgres_schema() as url:
        db = await Database.open(url)  # migrated once, before the workers start
        procs = []
        try:
            for i, log in enumerate(logs):
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "tests.jobs.lease_worker",
                        url,
                        simulator.base_url,
                        str(i),
                        str(JOBS_EACH),
                        str(log),
                        cwd=ROOT,
                    )
                )

            for i in range(PROCESSES):
                await until(lambda i=i: submitted_by(logs[i]), f"worker {i} to submit", 90)
            await until(
                lambda: any(e["ev"] == "poll" for e in read_log(logs[0])), "worker 0 to poll"
            )
            procs[0].send_signal(signal.SIGKILL)
            await procs[0].wait()
            killed_at = time.time()

            async def all_done() -> bool:
                row = await db.fetchone(
                    "SELECT count(*) AS n FROM jobs WHERE state = ? AND announced_at IS NOT NULL",
                    (JobState.COMPLETED.value,),
                )
                return row is not None and int(row["n"]) == PROCESSES * JOBS_EACH

            await until(all_done, "every job to complete and be announced", 60)
            rows = await db.fetchall("SELECT id, task_id, owner FROM jobs ORDER BY id")
            characters = await db.fetchall(
                "SELECT job_id, count(*) AS n FROM characters GROUP BY job_id"
            )
        finally:
            for proc in procs[1:]:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await db.close()

    job_ids = [int(row["id"]) for row in rows]
    assert len(job_ids) == PROCESSES * JOBS_EACH
    # Released when announced, so nobody holds them any more.
    assert all(row["owner"] is None for row in rows)
    # One character row per job.
    assert {int(r["job_id"]): int(r["n"]) for r in characters} == dict.fromkeys(job_ids, 1)

    events = [e for log in logs for e in read_log(log)]
    pids = {i: read_log(log)[0]["pid"] for i, log in enumerate(logs)}
    # One card per job, none from the killed process after it died.
    cards = defaultdict(list)
    for e in events:
        if e["ev"] == "card":
            cards[e["job"]].append(e["pid"])
    assert {job: len(who) for job, who in cards.items()} == dict.fromkeys(job_ids, 1)
    killed_jobs = submitted_by(logs[0])
    assert killed_jobs and all(cards[j][0] != pids[0] for j in killed_jobs)

    # No task polled by two processes over overlapping stretches of time.
    task_of = {str(row["task_id"]): int(row["id"]) for row in rows}
    polls: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for e in events:
        if e["ev"] == "poll":
            polls[e["task"]][e["pid"]].append(e["t"])
    for task, by_pid in polls.items():
        spans = sorted((min(ts), max(ts), pid) for pid, ts in by_pid.items())
        for (_, end, pid), (start, _, other) in itertools.pairwise(spans):
            assert end < start, f"job {task_of[task]} polled by {pid} and {other} at once"
    # The killed process's unfinished jobs were taken over within about one lease.
    taken = [
        min(ts)
        for task, by_pid in polls.items()
        if task_of[task] in killed_jobs
        for pid, ts in by_pid.items()
        if pid != pids[0]
    ]
    assert taken, "no job of the killed process was polled by another process"
    assert min(taken) - killed_at < LEASE + 3.0


def submitted_by(log: Path) -> list[int]:
    for event in read_log(log):
        if event["ev"] == "submitted":
            return list(event["jobs"])
    return []
