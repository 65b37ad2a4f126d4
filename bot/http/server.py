"""One small HTTP server: `POST /webhooks/toapis`, `GET /health`, `GET /metrics`.

It starts only when `HTTP_PORT` is set. Without `TOAPIS_WEBHOOK_SECRET` the webhook route
answers 404: no unsigned event is ever acted on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import metrics
from bot.domain.records import JobState
from bot.http.inbox import WebhookInbox
from bot.http.loop_lag import LoopLagSampler
from bot.http.webhooks import MAX_BODY, WebhookRefused, verify

if TYPE_CHECKING:
    from bot.jobs.tracker import JobTracker
    from storage.webhooks import WebhookEventRepository

log = logging.getLogger(__name__)

# (healthy, reason): e.g. whether the Discord connection is up.
HealthProbe = Callable[[], Awaitable[tuple[bool, str]]]


class Readings(Protocol):
    """What `/health` and `/metrics` read of the running bot, and nothing more."""

    async def ping_database(self) -> None:
        """Raise when the database does not answer."""

    async def job_counts(self) -> dict[JobState, int]:
        """Jobs in each state."""

    async def unannounced_jobs(self) -> int:
        """Finished jobs whose outcome was not shown yet."""

    async def characters(self) -> int:
        """Characters kept, every server."""

    def queue_length(self) -> int:
        """Jobs in the submit line."""


class ServiceServer:
    """The bot's HTTP side; `start` and `stop` it with the bot."""

    def __init__(
        self,
        readings: Readings,
        events: WebhookEventRepository,
        tracker: JobTracker,
        *,
        host: str,
        port: int,
        secrets: list[str],
        discord: HealthProbe,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.readings = readings
        self.host = host
        self.port = port
        self.secrets = secrets
        self.discord = discord
        self._clock = clock
        self.inbox = WebhookInbox(events, tracker)
        self._runner: web.AppRunner | None = None
        self.loop_lag = LoopLagSampler()  # read through /metrics
        self.url = ""

    async def start(self) -> str:
        """Listen; returns the base URL."""
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/webhooks/toapis", self._webhook)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        port = self._runner.addresses[0][1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{port}"
        log.info("HTTP server listening on %s (webhooks %s)", self.url, self._webhooks_state())
        await self.inbox.resume()  # events stored before a stop or a failed apply
        self.loop_lag.start()
        return self.url

    async def stop(self) -> None:
        """Stop listening, then stop applying events (unhandled ones wait, stored)."""
        await self.loop_lag.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.inbox.close()

    def _webhooks_state(self) -> str:
        return "on" if self.secrets else "off: TOAPIS_WEBHOOK_SECRET is not set"

    async def _webhook(self, request: web.Request) -> web.Response:
        if not self.secrets:
            raise web.HTTPNotFound
        body = await request.read()
        try:
            event = verify(self.secrets, request.headers, body, now=self._clock())
        except WebhookRefused as refused:
            outcome = {401: "bad_signature"}.get(refused.status, "stale_or_malformed")
            metrics.WEBHOOK_EVENTS.labels(outcome).inc()
            log.warning("webhook refused (%d): %s", refused.status, refused)
            return web.json_response({"error": str(refused)}, status=refused.status)
        try:
            answer = await self.inbox.receive(event)
        except Exception:  # not stored: toapis delivers it again later
            log.exception("webhook event %s could not be stored", event.id)
            return web.json_response({"error": "not stored"}, status=500)
        return web.json_response({"ok": True, answer: True})

    async def _health(self, request: web.Request) -> web.Response:
        problems = []
        connected, why = await self.discord()
        if not connected:
            problems.append(f"discord: {why}")
        try:
            await self.readings.ping_database()
        except Exception as exc:  # any failure of the database is a failed check
            problems.append(f"database: {type(exc).__name__}")
        status = 200 if not problems else 503
        body = {"status": "ok" if not problems else "unhealthy", "problems": problems}
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        counts = await self.readings.job_counts()
        for state in JobState:
            metrics.JOBS.labels(state.value).set(counts.get(state, 0))
        metrics.UNDELIVERED.set(await self.readings.unannounced_jobs())
        metrics.CHARACTERS.set(await self.readings.characters())
        metrics.QUEUE_LENGTH.set(self.readings.queue_length())
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
