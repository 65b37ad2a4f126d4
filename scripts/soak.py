"""Soak: the real bot process under every fault at once, and nothing lost (issue 26).

Runs `python -m bot` against a world process (`_soak_world.py`: the toapis simulator with
the default tier enforced, the tests' fake Discord REST and gateway, on loopback) for
`--minutes`, with `--requests` member requests arriving steadily (`/character create`
interactions through the gateway, each from its own member, `from_task` a task made in the
server, as `bench_load.py` sends them). Meanwhile, each at its rate (default 5 %): toapis
answers 500 to status reads, 503 to creates, 429 beyond the tier, and slowly (2-6 s);
Discord answers 500 and 429 to message writes; a moderator deletes a request's reply
mid-job; and the process is SIGKILLed (twice; once in a quick run) and restarted at once.

It checks, and exits 0 only when all hold:
- toapis accepted at most one character task per request (the simulator's tasks, each
  tied to its request by its range);
- every completed character's card is in exactly one message;
- every request is final (a card, or a reason the member can read) within 10 minutes of
  the last arrival;
- the bot's RSS grows by less than 40 MiB in the last third of the run, and event-loop
  lag p99 (`/metrics`) is under 100 ms outside the restarts (not in a quick run).

    python scripts/soak.py [--minutes 30] [--requests 1000] [--seed 1] [--database URL]
        [--quick] [--kills 2] [--rate-toapis-500 0.05] ... (see --help)

A run under 5 minutes is quick (outcomes only, one kill): `--minutes 1.5 --requests 100`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _soak_bot import BotProcess, Sample, drop_postgres, fresh_postgres, prepare  # noqa: E402
from _soak_checks import Figures, checks, table  # noqa: E402

from tests.fakes import USER_ID, payloads  # noqa: E402

RATES = (
    ("toapis_500", "toapis answers 500 to a status read"),
    ("toapis_503", "toapis answers 503 to a create"),
    ("toapis_429", "toapis answers 429 beyond the tier"),
    ("toapis_slow", "toapis answers after 2-6 s"),
    ("discord_500", "Discord answers 500 to a message write"),
    ("discord_429", "Discord answers 429 to a message write"),
    ("moderator", "a moderator deletes a request's reply mid-job"),
)
SETTLE_SECONDS = 600  # every request final within 10 minutes of the last arrival
SAMPLE_SECONDS = 5.0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", help="postgresql://... (a database of its own is made)")
    parser.add_argument("--quick", action="store_true", help="outcomes only (automatic < 5 min)")
    parser.add_argument("--kills", type=int, help="SIGKILLs (default 2; 1 when quick)")
    parser.add_argument("--task-seconds", type=float, help="toapis task length (45; quick 20)")
    for name, what in RATES:
        flag = "--rate-" + name.replace("_", "-")
        parser.add_argument(flag, type=float, default=0.05, help=f"{what} (0-1, default 0.05)")
    args = parser.parse_args()
    args.quick = args.quick or args.minutes < 5
    args.kills = args.kills if args.kills is not None else (1 if args.quick else 2)
    args.task_seconds = args.task_seconds or (20.0 if args.quick else 45.0)
    return args


def start_world(args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, str]]:
    rates = {name: getattr(args, f"rate_{name}") for name, _ in RATES}
    config = {"seed": args.seed, "task_seconds": args.task_seconds, "rates": rates}
    world = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "scripts" / "_soak_world.py"), json.dumps(config)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert world.stdout is not None
    urls: dict[str, str] = json.loads(world.stdout.readline())
    return world, urls


class Run:
    """One soak run: arrivals, faults, kills and samples, then the outcome."""

    def __init__(self, args: argparse.Namespace, urls: dict[str, str], bot: BotProcess) -> None:
        self.args = args
        self.urls = urls
        self.bot = bot
        self.random = random.Random(args.seed)
        self.duration = args.minutes * 60
        self.up = asyncio.Event()
        self.samples: list[Sample] = []
        self.control = httpx.AsyncClient(base_url=urls["control"], timeout=180)
        self.moderations: list[asyncio.Task[None]] = []
        self.kill_at = sorted(self.random.uniform(0.1, 0.6) for _ in range(args.kills))
        if args.quick:
            self.kill_at = sorted(self.random.uniform(0.3, 0.7) for _ in range(args.kills))

    async def arrivals(self, started: float) -> None:
        gap = self.duration / self.args.requests
        for n in range(self.args.requests):
            await asyncio.sleep(max(0.0, started + n * gap - time.monotonic()))
            await self.up.wait()  # held while the bot restarts, as Discord would be
            payload = payloads.slash_command(
                "create",
                {"from_task": self.urls["seed"], "start": str(n * 3), "end": str(n * 3 + 2)},
                group="character",
                user_id=USER_ID + 1 + n,
            )
            sent = {"n": n, "payload": payload}
            answer = await self.control.post("/_soak/interaction", json=sent)
            answer.raise_for_status()
            if self.random.random() < self.args.rate_moderator:
                delay = self.random.uniform(2.0, self.args.task_seconds)
                self.moderations.append(asyncio.create_task(self.moderate(n, delay)))

    async def moderate(self, n: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.control.post("/_soak/moderate", params={"n": n})

    async def kills(self, started: float) -> None:
        for share in self.kill_at:
            await asyncio.sleep(max(0.0, started + share * self.duration - time.monotonic()))
            self.up.clear()
            await self.bot.kill_and_restart()
            print(f"  SIGKILL and restart at {share:.0%} of the run", file=sys.stderr)
            self.up.set()

    async def sampling(self) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                sample = await self.bot.sample(client)
                if sample is not None:
                    self.samples.append(sample)
                await asyncio.sleep(SAMPLE_SECONDS)

    async def settle(self, last_arrival: float) -> float:
        """Wait until every request is final and every card shown; seconds it took."""
        while time.time() - last_arrival < SETTLE_SECONDS:
            brief = (await self.control.get("/_soak/report", params={"brief": "1"})).json()
            if brief["settled"]:
                break
            await asyncio.sleep(5.0)
        settled = time.time() - last_arrival
        await asyncio.sleep(5.0)  # a card sent twice would show up now
        return settled

    async def go(self) -> Figures:
        await self.bot.start()
        self.up.set()
        sampler = asyncio.create_task(self.sampling())
        started, wall = time.monotonic(), time.time()
        await asyncio.gather(self.arrivals(started), self.kills(started))
        last_arrival = time.time()
        print(f"  all {self.args.requests} requests sent; settling", file=sys.stderr)
        settled = await self.settle(last_arrival)
        report = (await self.control.get("/_soak/report")).json()
        sampler.cancel()
        for task in self.moderations:
            task.cancel()
        await self.control.aclose()
        return Figures(
            report=report,
            samples=self.samples,
            restarts=self.bot.restarts,
            started=wall,
            ended=last_arrival,
            settled=settled,
            exit_status=await self.bot.stop(),
        )


async def main_async(args: argparse.Namespace) -> int:
    world, urls = start_world(args)
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    made: tuple[str, str] | None = None
    try:
        if args.database:
            made = await fresh_postgres(args.database)
            database_url, target = made[0], made[0]
        else:
            target = str(folder / "bot.sqlite3")
            database_url = f"sqlite:///{target}"
        await prepare(target, urls["seed"])
        bot = BotProcess(folder, urls, database_url)
        print(f"soak: {args.requests} requests in {args.minutes:g} min; logs in {folder}")
        try:
            figures = await Run(args, urls, bot).go()
        finally:
            await bot.stop()
    finally:
        world.terminate()
        world.wait()
        if made is not None:
            await drop_postgres(args.database, made[1])
    results = checks(figures, quick=args.quick)
    print(table(figures, results, args))
    return 0 if all(ok for _, ok, _ in results) else 1


def main() -> None:
    sys.exit(asyncio.run(main_async(parse())))


if __name__ == "__main__":
    main()
