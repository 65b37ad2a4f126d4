"""The world `soak.py` runs the bot process against: `_load_world.World` with faults.

The toapis simulator (default tier enforced) answers a share of requests with 500 (status
reads), 503 (creates), 429 beyond the tier, or slowly; the fake Discord answers a share of
message writes with 500 or 429 (`retry_after`, `Via`). Its control API, beside
`_load_world`'s:

- `POST /_soak/interaction`: a request; dispatched through the fake gateway once a bot is
  connected (its `n` and member are recorded).
- `POST /_soak/moderate?n=N`: a moderator deletes request N's reply if it is still mid-job.
- `GET /_soak/report`: what members saw and what toapis accepted (`?brief=1`: counts only).

Started with one JSON argument: `{"seed", "task_seconds", "rates": {...}}`.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from _load_world import World
from _soak_outcomes import Outcomes, Request
from aiohttp import web

SUBMIT = "/v1/videos/generations"
WRITES = (
    ("POST", r"/channels/\d+/messages"),
    ("PATCH", r"/channels/\d+/messages/\d+"),
    ("POST", r"/webhooks/\d+/[^/]+"),
    ("PATCH", r"/webhooks/\d+/[^/]+/messages/[^/]+"),
)
DISCORD_RETRY_AFTER = 1.0
TOAPIS_RETRY_AFTER = 3  # beyond the default tier's one-second windows


class SoakWorld(World):
    """The load world, plus faults at a rate, a moderator and the outcome report."""

    def __init__(self, seed: int, task_seconds: float, rates: dict[str, float]) -> None:
        super().__init__()
        queued = task_seconds * 0.1
        self.sim.scenario.update(
            queued_for=queued,
            step_interval=(task_seconds - queued) / 4,
            retry_after=TOAPIS_RETRY_AFTER,
        )
        self.rates = rates
        self.random = random.Random(seed)  # the moderator's picks
        self.sim.fault_dice.seed(seed)
        self.fake.faults.random.seed(seed + 1)
        self.requests: list[Request] = []
        self.deleted: list[int] = []
        self.moderation_skipped = 0

    async def start(self) -> dict[str, str]:
        urls = await super().start()
        self.sim.scenario.update(
            fault_rates={
                "query_500": self.rates["toapis_500"],
                "submit_503": self.rates["toapis_503"],
                "rate_limited": self.rates["toapis_429"],
                "slow": self.rates["toapis_slow"],
            }
        )
        for method, path in WRITES:
            self.fake.fail_at_rate(
                method, path, self.rates["discord_500"], 500, {"message": "500", "code": 0}
            )
            self.fake.rate_limit_at_rate(
                method, path, self.rates["discord_429"], retry_after=DISCORD_RETRY_AFTER
            )
        return {**urls, "gateway": self.fake.gateway_url}

    def routes(self) -> list[web.RouteDef]:
        return [
            *super().routes(),
            web.post("/_soak/interaction", self._interaction),
            web.post("/_soak/moderate", self._moderate),
            web.get("/_soak/report", self._report),
        ]

    def _connected(self) -> bool:
        return any(s.identified and not s.ws.closed for s in self.fake.gateway.sessions)

    async def _interaction(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        payload, n = body["payload"], int(body["n"])
        deadline = time.monotonic() + 120
        while not self._connected():  # the bot is restarting: Discord would hold it too
            if time.monotonic() > deadline:
                return web.json_response({"error": "no bot connected"}, status=503)
            await asyncio.sleep(0.05)
        user = int(payload["member"]["user"]["id"])
        self.requests.append(Request(n, user, payload["token"], time.time()))
        await self.fake.gateway.dispatch("INTERACTION_CREATE", payload)
        return web.json_response({"ok": True})

    async def _moderate(self, request: web.Request) -> web.Response:
        """Delete request n's reply, as a moderator would, if it still shows progress."""
        n = int(request.query["n"])
        found = next((r for r in self.requests if r.n == n), None)
        thread = self.fake.store.tokens.get(found.token) if found else None
        reply = thread.original_id if thread else None
        message = self.fake.message(reply) if reply is not None else None
        if reply is None or message is None or not Outcomes.in_progress(message):
            self.moderation_skipped += 1
            return web.json_response({"deleted": None})
        self.fake.delete_message(reply)
        self.deleted.append(reply)
        return web.json_response({"deleted": reply})

    async def _report(self, request: web.Request) -> web.Response:
        outcomes = Outcomes(self.fake.store, self.requests)
        tasks_by_n: dict[int, list[str]] = {}
        completed: list[str] = []
        running = 0
        for task_id, task in self.sim.tasks.items():
            if task_id in self.ignore:
                continue
            tasks_by_n.setdefault(int(task.start) // 3, []).append(task_id)
            if task.status == "completed":
                completed.append(task_id)
            running += not task.is_final
        creates = sum(1 for r in self.sim.requests if r.method == "POST" and r.path == SUBMIT)
        body = outcomes.summary(tasks_by_n, completed, running)
        body.update(
            create_requests=creates,
            toapis_faults=dict(self.sim.fault_dice.injected),
            discord_faults=dict(self.fake.faults.injected),
            moderator_deletes=len(self.deleted),
            moderator_too_late=self.moderation_skipped,
            toapis_limited=self.sim.limits.to_dict(),
        )
        if request.query.get("brief"):
            body = {k: len(v) if isinstance(v, list) else v for k, v in body.items()}
        return web.json_response(body)


async def serve(config: dict[str, Any]) -> None:
    world = SoakWorld(int(config["seed"]), float(config["task_seconds"]), config["rates"])
    urls = await world.start()
    print(json.dumps(urls), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(sys.argv[1])))
