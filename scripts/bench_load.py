"""Benchmark: many members at once, the real bot against a naive bot, in one run.

Starts a world process (`_load_world.py`: the toapis simulator with the default tier
enforced, and the tests' fake Discord REST server, on loopback), then runs N jobs
(default 1,000) created within 10 s from `from_task` sources through

- the real bot polling (`SoraBot` logged in to the fake Discord; each job is a real
  `/character create` interaction),
- the real bot with webhooks on (its HTTP server on a free port, a signing secret, the
  callback URL pointing at it; the simulator signs and sends each task's final event),
- a naive bot (a task per job: send the create request, retry a 429 after Retry-After,
  poll every 2 s, edit the reply on every poll),

each in a fresh process of its own, so CPU and memory are the bot's alone. The bot's
per-member and per-server spending limits are set out of the way explicitly (every job
also has its own member). It prints one table with ratio columns (bot / naive).

Tasks take 45 s by default (`--task-seconds`), each drawn from that times 1 +- 0.2
(`--duration-spread`, seeded with `--seed`: the same lengths for every mode and run), so
that nothing is tuned to a constant. With `--task-seconds all` they are long enough that
every job is submitted (at 5 submits/s) a while before the first one completes.

What it prints, per bot and as a ratio to the naive one (issue 26's figures):
- CPU while every job waits: the bot process's CPU from the moment the last task was
  created at toapis until the first completed, % of a core per 100 jobs;
- completion to card p50 and p95 (each task's completion until its card was posted);
- toapis requests, all of them (429s included);
- CPU over the whole run per job: from the first job fed until every card is in;
- memory slope: (RSS when the last task was created - RSS when the first was) / (jobs - 1).
The moments come from the world (`time.monotonic`, one clock per machine); the bot's
process samples its CPU and RSS every 0.5 s (and checks the world every 2 s through
aiohttp, the lightest client at hand: the probe's own cost counts against every bot
alike). Then whether each of the four targets held.

    python scripts/bench_load.py [--jobs 1000] [--spread 10] [--task-seconds 45|all]
        [--modes real,webhooks,naive] [--duration-spread 0.2] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _load_profile import WindowProfile  # noqa: E402
from _load_table import MODES, table  # noqa: E402

from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, payloads  # noqa: E402

BOT_TOKEN = "MTMwMDAwMDAwMDAwMDAwMDAwMg.GfakeX.bot-token-for-tests-only-0123456789"  # noqa: S105
PAGE = os.sysconf("SC_PAGE_SIZE")
SECRET = "whsec_bench_load_0123456789abcdef"  # noqa: S105 - the simulator's, loopback only
SUBMITS_PER_SECOND = 5  # the default tier
STEPS_SECONDS = 40.0  # 4 progress steps of 10 s after the queue
IDLE_WINDOW = 30.0
SAMPLE_SECONDS = 0.5  # seconds every job waits at toapis, at least


def all_wait_seconds(jobs: int) -> float:
    """A task length at which every job is submitted (with a margin) and then waits
    IDLE_WINDOW more before the first completes (`--task-seconds all`)."""
    return max(45.0, math.ceil(jobs / SUBMITS_PER_SECOND * 1.25) + IDLE_WINDOW)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Probe:
    """Samples CPU, RSS and event-loop lag while the jobs run."""

    def __init__(self, jobs: int, mode: str) -> None:
        self.jobs = jobs
        self.profile = WindowProfile(mode)  # opt-in (BENCH_PROFILE, BENCH_TRACEMALLOC)
        self.profile.begin_run()
        self.lags: list[float] = []
        self.trace: list[tuple[float, float, int]] = []  # (monotonic time, CPU s, RSS bytes)
        self.run_from = (time.monotonic(), cpu())
        self.run_to = self.run_from

    def poll(self, stats: dict[str, Any]) -> None:
        """Profile (if asked) while every job waits: all sent, none completed yet."""
        if stats["completed"] > 0:
            self.profile.stop()
        elif stats["created"] >= self.jobs:
            self.profile.start()

    def finished(self) -> None:
        """Every card is in: the run's CPU stops counting."""
        self.run_to = (time.monotonic(), cpu())

    def at(self, moment: float | None) -> tuple[float, float, int] | None:
        """The sample nearest to `moment` (world clock), if there is one within 1 s."""
        if moment is None or not self.trace:
            return None
        nearest = min(self.trace, key=lambda sample: abs(sample[0] - moment))
        return nearest if abs(nearest[0] - moment) <= 1.0 else None

    def figures(self, stats: dict[str, Any]) -> dict[str, float]:
        """The window's CPU, the run's CPU per job and the memory slope."""
        nan = float("nan")
        wait_from, wait_to = self.at(stats["last_created"]), self.at(stats["first_completed"])
        window = cpu_wait = nan
        if wait_from and wait_to and wait_to[0] > wait_from[0]:
            window = wait_to[0] - wait_from[0]
            cpu_wait = (wait_to[1] - wait_from[1]) / window * 100 / (self.jobs / 100)
        first_sent, all_sent = self.at(stats["first_created"]), self.at(stats["last_created"])
        slope = nan
        if first_sent and all_sent and self.jobs > 1:
            slope = (all_sent[2] - first_sent[2]) / (self.jobs - 1)
        return {
            "wait_cpu_per_100": cpu_wait,
            "wait_seconds": window,
            "run_cpu_per_job": (self.run_to[1] - self.run_from[1]) / self.jobs,
            "run_seconds": self.run_to[0] - self.run_from[0],
            "rss_slope": slope,
        }

    async def sample(self) -> None:
        """Every `SAMPLE_SECONDS`: CPU, RSS and how late it woke. One task, rarely awake:
        the probe's own cost counts against every bot alike."""
        loop = asyncio.get_running_loop()
        with open("/proc/self/statm", "rb") as statm:  # noqa: ASYNC230 - /proc never blocks
            while True:
                statm.seek(0)
                self.trace.append((time.monotonic(), cpu(), int(statm.read().split()[1]) * PAGE))
                asked = loop.time() + SAMPLE_SECONDS
                await asyncio.sleep(SAMPLE_SECONDS)
                self.lags.append(max(0.0, loop.time() - asked))


async def stats_of(control: aiohttp.ClientSession, brief: bool) -> dict[str, Any]:
    async with control.get("/_bench/stats?brief=1" if brief else "/_bench/stats") as answer:
        stats: dict[str, Any] = await answer.json()
        return stats


async def wait_for_cards(control: aiohttp.ClientSession, jobs: int, probe: Probe) -> dict[str, Any]:
    deadline = time.monotonic() + 1800
    while True:
        stats = await stats_of(control, brief=True)
        probe.poll(stats)
        if stats["cards"] >= jobs or time.monotonic() > deadline:
            probe.finished()
            return await stats_of(control, brief=False)
        await asyncio.sleep(2.0)


async def made_here(core: Any, task_id: str) -> None:
    """Record the seed task as one this server made: members may only use those."""
    from bot.domain.records import JobState, NewJob, SourceKind

    seed = await core.jobs.create(NewJob(GUILD_ID, SourceKind.URL, "seed", 1, 3, "sora-2"))
    await core.jobs.set_submitted(seed.id, task_id, JobState.COMPLETED, 100)
    await core.jobs.mark_announced(seed.id)


async def run_real(
    urls: dict[str, str], jobs: int, spread: float, *, webhooks: bool = False
) -> dict[str, Any]:
    """The real bot: `SoraBot` with its core, cogs and scheduler, fed interactions."""
    from bot.runtime.app import SoraBot, apply_endpoints
    from bot.runtime.settings_check import load_settings

    folder = tempfile.mkdtemp(prefix="bench-load-")
    hooks: dict[str, Any] = {}
    if webhooks:  # the bot's HTTP server takes the simulator's signed events
        port = free_port()
        hooks = {
            "http_host": "127.0.0.1",
            "http_port": port,
            "toapis_webhook_secret": SECRET,
            "toapis_callback_url": f"http://127.0.0.1:{port}/webhooks/toapis",
        }
    settings = load_settings(
        discord_token=BOT_TOKEN,
        toapis_api_key="sim-key",
        toapis_base_url=urls["toapis"],
        database_url=f"sqlite:///{folder}/bot.sqlite3",
        discord_api_base_url=urls["discord"],
        allow_private_urls=True,
        toapis_tier="default",
        **hooks,
    )
    apply_endpoints(settings)
    bot = SoraBot(settings)
    await bot.login(BOT_TOKEN)
    assert bot.core is not None
    # The spending limits are set out of the way explicitly: this measures the scheduler.
    await bot.core.guild_settings.set(
        GUILD_ID, jobs_at_once=20, jobs_per_day=1000, server_jobs_per_day=100_000
    )
    await made_here(bot.core, urls["seed"])
    probe = Probe(jobs, "webhooks" if webhooks else "real")
    async with aiohttp.ClientSession(urls["control"]) as control:
        tasks = [asyncio.create_task(probe.sample())]
        feeding = [
            payloads.slash_command(
                "create",
                {"from_task": urls["seed"], "start": "1", "end": "3"},
                group="character",
                user_id=USER_ID + n,
            )
            for n in range(jobs)
        ]
        async with control.post("/_bench/interaction", data=json.dumps(feeding)) as answer:
            answer.raise_for_status()
        for n, payload in enumerate(feeding):
            bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
            if n % 10 == 9:
                await asyncio.sleep(spread * 10 / jobs)
        stats = await wait_for_cards(control, jobs, probe)
        for task in tasks:
            task.cancel()
    await bot.close()
    return report(stats, probe, jobs)


async def run_naive(urls: dict[str, str], jobs: int, spread: float) -> dict[str, Any]:
    """The naive bot: a task per job, polling every 2 s and editing on every poll."""
    probe = Probe(jobs, "naive")
    limits = httpx.Limits(max_connections=200)
    toapis = httpx.AsyncClient(
        base_url=urls["toapis"],
        headers={"Authorization": "Bearer sim-key"},
        timeout=60,
        limits=limits,
    )
    discord = httpx.AsyncClient(
        base_url=urls["discord"],
        headers={"Authorization": f"Bot {BOT_TOKEN}"},
        timeout=60,
        limits=limits,
    )
    channel = f"/channels/{CHANNEL_ID}/messages"

    async def job(n: int) -> None:
        reply = (await discord.post(channel, json={"content": "Creating a character…"})).json()
        body = {"model": "sora-2", "timestamps": "1,3", "from_task": urls["seed"]}
        while True:
            answer = await toapis.post("/v1/videos/generations", json=body)
            if answer.status_code != 429:
                break
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        task_id = answer.json()["id"]
        while True:
            await asyncio.sleep(2.0)
            status = await toapis.get(f"/v1/characters_tasks/{task_id}")
            if status.status_code != 200:
                continue
            task = status.json()
            done = task["status"] == "completed"
            fields = [{"name": "Task id", "value": task_id}]
            if done:
                ch = task["result"]["data"]["characters"][0]
                fields.append({"name": "Character id", "value": ch["id"]})
            embed = {"title": "Character", "description": f"{task['progress']}%", "fields": fields}
            await discord.patch(f"{channel}/{reply['id']}", json={"embeds": [embed]})
            if done:
                return

    async with aiohttp.ClientSession(urls["control"]) as control:
        tasks = [asyncio.create_task(probe.sample())]
        running = []
        for n in range(jobs):
            running.append(asyncio.create_task(job(n)))
            if n % 10 == 9:
                await asyncio.sleep(spread * 10 / jobs)
        stats = await wait_for_cards(control, jobs, probe)
        for task in tasks + running:
            task.cancel()
    await toapis.aclose()
    await discord.aclose()
    return report(stats, probe, jobs)


def report(stats: dict[str, Any], probe: Probe, jobs: int) -> dict[str, Any]:
    probe.profile.end_run()
    latencies = sorted(stats["latencies"]) or [float("nan")]
    lags = sorted(probe.lags) or [0.0]
    return {
        **probe.figures(stats),
        "requests": stats["requests"],
        "limited": stats["limited"],
        "limited_submit": stats["limits"]["submit"]["limited"],
        "limited_query": stats["limits"]["query"]["limited"],
        "writes_per_job": stats["writes"] / jobs,
        "card_p50": latencies[len(latencies) // 2],
        "card_p95": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))],
        "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
        "lost": stats["lost"] + max(0, jobs - stats["created"]),
        "duplicated": stats["duplicated"],
    }


def child(mode: str, urls: dict[str, str], jobs: int, spread: float) -> dict[str, Any]:
    """Run one bot in a fresh process and return its report."""
    output = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, __file__, "--child", mode, "--jobs", str(jobs), "--spread", str(spread)],
        input=json.dumps(urls),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds to create them in")
    parser.add_argument(
        "--task-seconds",
        default="45",
        help="how long each toapis task takes (default 45; 'all': long enough that every"
        " job is submitted before the first completes)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="which bots to run, comma-separated (default: real,webhooks,naive)",
    )
    parser.add_argument(
        "--duration-spread",
        type=float,
        default=0.2,
        help="each task's length drawn from --task-seconds times 1 +- this (default 0.2)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="of the task lengths (default 1: every mode, every run)"
    )
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import logging

        logging.basicConfig(level=logging.ERROR)
        urls = json.loads(sys.stdin.read())
        if args.child == "naive":
            ran = run_naive(urls, args.jobs, args.spread)
        else:
            ran = run_real(urls, args.jobs, args.spread, webhooks=args.child == "webhooks")
        print(json.dumps(asyncio.run(ran)))
        return
    world = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "scripts" / "_load_world.py")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert world.stdout is not None
        urls = json.loads(world.stdout.readline())
        results = {}
        seconds = (
            all_wait_seconds(args.jobs)
            if args.task_seconds == "all"
            else max(STEPS_SECONDS, float(args.task_seconds))
        )
        queued_for = seconds - STEPS_SECONDS
        for mode in [m for m in MODES if m in args.modes.split(",")]:
            scenario = {
                "queued_for": queued_for,
                "webhook_secret": SECRET if mode == "webhooks" else None,
                "duration_spread": args.duration_spread,
                "duration_seed": args.seed,
            }
            httpx.post(urls["control"] + "/_bench/reset", json=scenario)
            print(f"running the {mode} bot with {args.jobs} jobs…", file=sys.stderr)
            results[mode] = child(mode, urls, args.jobs, args.spread)
            got = results[mode]
            print(
                f"  {mode}: 429s {got['limited_submit']} to submits,"
                f" {got['limited_query']} to status queries",
                file=sys.stderr,
            )
        print(table(args.jobs, seconds, args.duration_spread, results))
    finally:
        world.terminate()
        world.wait()


if __name__ == "__main__":
    main()
