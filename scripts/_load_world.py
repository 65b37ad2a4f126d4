"""The world `bench_load.py` runs bots against, in a process of its own.

A toapis simulator (tasks take 45 s, the default tier enforced) and the fake Discord REST
server of the tests, both on loopback, plus a small control API on the fake's side:
`POST /_bench/interaction` registers an interaction, `POST /_bench/reset` clears every
counter (a JSON body changes scenario fields for the next run: `queued_for`,
`webhook_secret`, `duration_spread`, `duration_seed`), `GET /_bench/stats` answers what toapis
and Discord saw. Task creations, completions and cards are time-stamped (`time.monotonic`, the
same clock in every process of the machine) by watching both every 50 ms (so +-50 ms).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' fake Discord

from bot.simulator import Scenario, Simulator
from tests.fakes import FakeDiscord

TASK = re.compile(r"task_[A-Z0-9]{26}")
CARD_TASK = re.compile(r"Task id.{0,40}?(task_[A-Z0-9]{26})")  # not the source's task
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def card_task(body: Any) -> str | None:
    """The task id of a card, else None: a message body whose JSON says "Character id"
    and "Task id" followed by a task (embed fields, or Components V2 text displays)."""
    if not isinstance(body, dict):
        return None
    text = json.dumps(body, ensure_ascii=False)
    found = CARD_TASK.search(text) if "Character id" in text else None
    return found.group(1) if found else None


class World:
    """The simulator, the fake Discord and what they saw since the last reset."""

    def __init__(self) -> None:
        self.sim = Simulator(
            Scenario(
                queued_for=5.0,
                step_interval=10.0,  # 5 s queued + 4 steps of 10 s: 45 s a task
                check_media=False,
                tier="default",
            )
        )
        self.fake = FakeDiscord()
        self.seed = ""
        self.created: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.cards: dict[str, list[float]] = {}
        self._seen_calls = 0
        self.writes = 0
        self.ignore: set[str] = set()  # tasks of an earlier run

    async def start(self) -> dict[str, str]:
        await self.sim.start()
        await self.fake.start()
        seed = await self.sim_create()
        self.sim.complete_task(seed)
        self.seed = seed
        self.ignore = {seed}
        self._watcher = asyncio.create_task(self._watch())
        app = web.Application()
        app.add_routes(self.routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return {
            "toapis": self.sim.base_url,
            "discord": self.fake.base_url,
            "control": f"http://127.0.0.1:{port}",
            "seed": seed,
        }

    def routes(self) -> list[web.RouteDef]:
        """The control API (a subclass adds its own)."""
        return [
            web.post("/_bench/interaction", self._register),
            web.post("/_bench/reset", self._reset),
            web.get("/_bench/stats", self._stats),
        ]

    async def sim_create(self) -> str:
        """A first task to create characters `from_task` (made through the API)."""
        import httpx

        async with httpx.AsyncClient(base_url=self.sim.base_url) as client:
            answer = await client.post(
                "/v1/videos/generations",
                json={"model": "sora-2", "timestamps": "1,3", "url": "http://127.0.0.1/a.mp4"},
                headers={"Authorization": "Bearer sim-key"},
            )
            return str(answer.json()["id"])

    async def _watch(self) -> None:
        while True:
            now = time.monotonic()
            for task_id, task in self.sim.tasks.items():
                if task_id in self.completed or task_id in self.ignore:
                    continue
                self.created.setdefault(task_id, now)
                if task.status == "completed":
                    self.completed[task_id] = now
            calls = self.fake.calls
            for call in calls[self._seen_calls :]:
                if call.method in WRITES and not call.path.startswith("/_"):
                    self.writes += 1
                carded = card_task(call.json) if call.method in WRITES else None
                if carded is not None:
                    self.cards.setdefault(carded, []).append(now)
            self._seen_calls = len(calls)
            await asyncio.sleep(0.05)

    async def _register(self, request: web.Request) -> web.Response:
        for payload in json.loads(await request.read()):
            self.fake.register_interaction(payload)
        return web.json_response({})

    async def _reset(self, request: web.Request) -> web.Response:
        fields = json.loads(await request.read() or b"{}")
        self.sim.scenario.update(**fields)  # task length, webhooks on or off
        self.sim.requests.clear()
        self.sim.reset_limits()  # fresh windows and counters
        self.fake.calls.clear()
        self._seen_calls = 0
        self.writes = 0
        self.completed = {}
        self.created = {}
        self.ignore = set(self.sim.tasks)
        self.cards.clear()
        return web.json_response({})

    async def _stats(self, request: web.Request) -> web.Response:
        limits = self.sim.limits.to_dict()
        latencies = []
        lost = duplicated = 0
        for task_id, done in self.completed.items():
            seen = self.cards.get(task_id, [])
            if not seen:
                lost += 1
                continue
            duplicated += len(seen) > 1
            latencies.append(max(0.0, seen[0] - done))
        body = {
            "requests": len(self.sim.requests),
            "limited": limits["submit"]["limited"] + limits["query"]["limited"],
            "limits": limits,
            "created": len(self.sim.tasks) - len(self.ignore),
            "completed": len(self.completed),
            "cards": len(self.cards),
            "lost": lost,
            "duplicated": duplicated,
            # The bot's process polls these every 2 s: keep its share of the work small.
            "latencies": [] if request.query.get("brief") else latencies,
            "writes": self.writes,
            "first_created": min(self.created.values(), default=None),
            "last_created": max(self.created.values(), default=None),
            "first_completed": min(self.completed.values(), default=None),
        }
        return web.json_response(body)


async def serve() -> None:
    world = World()
    urls = await world.start()
    print(json.dumps(urls), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve())
