"""The bot process of a soak run: its database, its start, its death and its readings.

`python -m bot` runs as members would host it (the real start-up, the gateway, the HTTP
server for `/metrics`), pointed at the soak world; SIGKILL gives it no chance to clean up.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import GUILD_ID

ROOT = Path(__file__).resolve().parents[1]
BOT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.bot-token-for-tests-only-0123456789"  # noqa: S105
LAG = "sora_event_loop_lag_seconds"
ROOMY = {"jobs_at_once": 20, "jobs_per_day": 1000, "server_jobs_per_day": 100_000}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def fresh_postgres(url: str) -> tuple[str, str]:
    """A database of its own on the server of `url`: (its URL, its name)."""
    import asyncpg

    name = f"soak_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}")), name


async def drop_postgres(url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def prepare(target: str, seed_task: str) -> None:
    """Limits out of the way (each request is its own member) and the seed task recorded
    as made in this server (members may only create `from_task` of those)."""
    from bot.domain.records import JobState, NewJob, SourceKind
    from storage import open_database
    from storage.guild_settings import GuildSettingsRepository
    from storage.jobs import JobRepository

    db = await open_database(target)
    try:
        await GuildSettingsRepository(db).set_many(GUILD_ID, dict(ROOMY))
        jobs = JobRepository(db)
        seed = await jobs.create(NewJob(GUILD_ID, SourceKind.URL, "seed", 1, 3, "sora-2"))
        await jobs.set_submitted(seed.id, seed_task, JobState.COMPLETED, 100)
        await jobs.mark_announced(seed.id)
    finally:
        await db.close()


@dataclass
class Sample:
    """One reading of the bot process."""

    at: float
    pid: int
    rss: int  # bytes
    lag: dict[float, float]  # cumulative histogram: bucket bound -> samples at most that


@dataclass
class BotProcess:
    """Starts, kills and reads `python -m bot`; keeps the restart windows."""

    folder: Path
    urls: dict[str, str]
    database_url: str
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    restarts: list[tuple[float, float]] = field(default_factory=list)  # (killed, ready)
    _log: IO[bytes] | None = None

    def env(self) -> dict[str, str]:
        prefixes = ("DISCORD_", "TOAPIS_", "DATABASE_", "HTTP_", "CHARACTER_", "LOG_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
        env.update(
            DISCORD_TOKEN=BOT_TOKEN,
            TOAPIS_API_KEY="sim-key",
            TOAPIS_BASE_URL=self.urls["toapis"],
            TOAPIS_TIER="default",
            DATABASE_URL=self.database_url,
            DATA_DIR=str(self.folder),
            DISCORD_API_BASE_URL=self.urls["discord"],
            DISCORD_GATEWAY_URL=self.urls["gateway"],
            ALLOW_PRIVATE_URLS="true",
            CHARACTER_ENGINES="sora-2",
            HTTP_HOST="127.0.0.1",
            HTTP_PORT=str(self.port),
            LOG_LEVEL="INFO",
        )
        return env

    async def start(self) -> None:
        """Start the process and wait until `/health` says it is connected (60 s)."""
        self.starts += 1
        self._log = (self.folder / f"bot-{self.starts}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=ROOT,
            env=self.env(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the bot exited at start ({self.process.returncode})")
                try:
                    if (await client.get(f"{self.base}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the bot did not become healthy within 60 s")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def kill_and_restart(self) -> None:
        """SIGKILL, then a new process at once."""
        assert self.process is not None
        killed = time.time()
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        await self.start()
        self.restarts.append((killed, time.time()))

    async def stop(self) -> int | None:
        """SIGTERM (SIGKILL after 20 s); the exit status."""
        if self.process is None or self.process.returncode is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), timeout=20)
        except TimeoutError:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
            return None

    async def sample(self, client: httpx.AsyncClient) -> Sample | None:
        """RSS from /proc and the lag histogram from `/metrics` (None while restarting)."""
        process = self.process
        if process is None or process.returncode is not None:
            return None
        try:
            status = await asyncio.to_thread(Path(f"/proc/{process.pid}/status").read_text)
            scraped = (await client.get(f"{self.base}/metrics")).text
        except (OSError, httpx.HTTPError):
            return None
        rss = next(int(line.split()[1]) * 1024 for line in status.splitlines() if "VmRSS" in line)
        return Sample(time.time(), process.pid, rss, lag_buckets(scraped))


def lag_buckets(scraped: str) -> dict[float, float]:
    for family in text_string_to_metric_families(scraped):
        if family.name == LAG:
            return {
                float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")
            }
    return {}


def lag_p99(samples: list[Sample], excluded: list[tuple[float, float]]) -> dict[str, Any]:
    """p99 of the lag (a bucket bound) over the stretches between samples of one process
    that touch no excluded window; and the share of samples over 100 ms."""
    merged: dict[float, float] = {}
    for before, after in itertools.pairwise(samples):
        if before.pid != after.pid or any(
            start <= after.at and before.at <= end for start, end in excluded
        ):
            continue
        for bound, count in after.lag.items():
            merged[bound] = merged.get(bound, 0.0) + count - before.lag.get(bound, 0.0)
    total = merged.get(float("inf"), 0.0)
    if total <= 0:
        return {"samples": 0, "p99": float("nan"), "over_100ms": float("nan")}
    p99 = next(b for b in sorted(merged) if merged[b] >= total * 0.99)
    over = (total - merged.get(0.1, 0.0)) / total
    return {"samples": int(total), "p99": p99, "over_100ms": over}
