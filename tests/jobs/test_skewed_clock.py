"""Two bot processes on one PostgreSQL database, one on a host whose clock runs a minute
ahead: it does not take over the job the other process is alive and following (leases run
on the database clock, not on each host's own)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.simulator import Simulator
from storage import open_database
from tests.jobs.lease_worker import CLOCK_SHIFT, LEASE
from tests.jobs.test_leases_multiprocess import ROOT, read_log, submitted_by, until
from tests.storage.backends import postgres_schema, skip_without_postgres


async def worker(
    url: str, toapis: str, index: int, jobs: int, log: Path, shift: float
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.jobs.lease_worker",
        url,
        toapis,
        str(index),
        str(jobs),
        str(log),
        cwd=ROOT,
        env={**os.environ, CLOCK_SHIFT: str(shift)},
    )


@pytest.mark.timeout(180)
async def test_a_process_whose_clock_runs_ahead_does_not_take_a_live_job(
    simulator: Simulator, tmp_path: Path
) -> None:
    skip_without_postgres()
    simulator.scenario.update(check_media=False, hang=True)  # the job keeps running
    live_log, ahead_log = tmp_path / "live.jsonl", tmp_path / "ahead.jsonl"
    async with postgres_schema() as url:
        db = await open_database(url)  # migrated once, before the workers start
        procs: list[asyncio.subprocess.Process] = []
        try:
            live = await worker(url, simulator.base_url, 0, 1, live_log, 0)
            procs.append(live)
            await until(lambda: submitted_by(live_log), "the live process to send its job", 90)
            [job_id] = submitted_by(live_log)
            holder = next(e["owner"] for e in read_log(live_log) if e["ev"] == "submitted")

            ahead = await worker(url, simulator.base_url, 1, 0, ahead_log, 60)
            procs.append(ahead)
            # Started: it has claimed every job whose lease it saw run out.
            await until(lambda: any(e["ev"] == "submitted" for e in read_log(ahead_log)), "start")

            async def lease() -> float:
                row = await db.fetchone("SELECT lease_until FROM jobs WHERE id = ?", (job_id,))
                assert row is not None
                return float(row["lease_until"])

            # A whole lease later (the live process renewed it; the one ahead swept about
            # three times meanwhile, every third of a lease).
            seen = await lease()

            async def renewed() -> bool:
                return await lease() > seen + LEASE

            await until(renewed, "the live process to renew its lease for a whole lease", 30)
            row = await db.fetchone("SELECT owner, task_id FROM jobs WHERE id = ?", (job_id,))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await db.close()

    assert row is not None and row["owner"] == holder  # still the live process's job
    polled_ahead = [e for e in read_log(ahead_log) if e["ev"] == "poll"]
    assert polled_ahead == []  # followed once, not twice
    assert any(e["ev"] == "poll" and e["task"] == row["task_id"] for e in read_log(live_log))
