"""A toapis simulator: a real aiohttp HTTP server that follows `docs/toapis.md`.

Routes: the API (`/v1/...`, Bearer auth; the engines beyond sora-2 in `engine_routes.py`
and `avatars.py`), hosted uploads (`/uploads/videos/{name}`, `/uploads/images/{name}`),
avatar images (`/f/image/{name}`) and a control API (`/_sim/...`, no auth) for
scripting a running simulator from another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple

import httpx
from aiohttp import web

from bot.simulator.answers import api_error, retired
from bot.simulator.avatars import Asset
from bot.simulator.control import SimulatorControls
from bot.simulator.engine_routes import SimulatorEngines
from bot.simulator.engines import ENGINE_MODELS
from bot.simulator.fault_rates import FaultDice
from bot.simulator.files import SimulatorFiles
from bot.simulator.limits import RateLimits
from bot.simulator.media_check import make_avatar_jpeg
from bot.simulator.scenario import Scenario
from bot.simulator.tasks import (
    MODELS,
    SimTask,
    new_task_id,
    run_task,
    validate_create,
)
from bot.simulator.videos import validate_video
from bot.simulator.webhook_sender import SentEvent, deliver, event_for, signed

log = logging.getLogger(__name__)

Kind = Literal["submit", "query", "upload"]
_RATE_LIMITS = {"submit": ("async_submit", 300), "query": ("async_query", 3000)}
_MALFORMED_BODY = "<html><body><h1>502 Bad Gateway</h1></body></html>"


class RecordedRequest(NamedTuple):
    """One API request as the simulator received it.

    `path` is as sent (percent-encoding kept, no query); `body` is the parsed JSON or None.
    """

    method: str
    path: str
    body: Any


class Simulator(SimulatorControls, SimulatorFiles, SimulatorEngines):
    """A loopback toapis: start it, point a client at `.base_url`, script `.scenario`."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self.scenario = scenario if scenario is not None else Scenario()
        self.tasks: dict[str, SimTask] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.assets: dict[str, Asset] = {}
        self.business_ids: dict[str, str] = {}
        self.requests: list[RecordedRequest] = []
        self.submits = 0
        self.base_url = ""
        self.webhooks_sent: list[SentEvent] = []
        self.video_requests: list[str] = []
        self.fault_dice = FaultDice()  # `Scenario.fault_rates`: seed it for repeatable runs
        self._durations = random.Random()  # `Scenario.duration_spread`, not secrets
        self._durations_seed: int | None = None  # what they were seeded with
        self._deliveries: set[asyncio.Future[SentEvent]] = set()
        self._runner: web.AppRunner | None = None
        self._client: httpx.AsyncClient | None = None
        self._upload_dir: Path | None = None
        self._avatar = b""
        self._limits = RateLimits(None)
        self._limits_key: tuple[Any, ...] = (None, 0, 0)

    @property
    def limits(self) -> RateLimits:
        """The rate limits in force (rebuilt, counters reset, when the scenario's change)."""
        scenario = self.scenario
        key = (scenario.tier, scenario.submit_per_second, scenario.query_per_second)
        if key != self._limits_key:
            self._limits_key = key
            self._limits = RateLimits(
                scenario.tier,
                submit_per_second=scenario.submit_per_second,
                query_per_second=scenario.query_per_second,
            )
        return self._limits

    # --- life cycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the base URL."""
        if self._runner is not None:
            raise RuntimeError("simulator already started")
        self._avatar = await asyncio.to_thread(make_avatar_jpeg)
        self._upload_dir = Path(tempfile.mkdtemp(prefix="toapis-sim-"))
        self._client = httpx.AsyncClient(follow_redirects=True)
        runner = web.AppRunner(self._build_app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
        shown = f"[{shown}]" if ":" in shown else shown
        self.base_url = f"http://{shown}:{bound_port}"
        log.debug("toapis simulator listening on %s", self.base_url)
        return self.base_url

    async def stop(self) -> None:
        """Cancel running tasks, close the server and delete uploaded files."""
        runners = [task.runner for task in self.tasks.values() if task.runner is not None]
        runners += [asset.runner for asset in self.assets.values() if asset.runner is not None]
        for runner_task in runners:
            runner_task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._upload_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._upload_dir, ignore_errors=True)
            self._upload_dir = None

    async def __aenter__(self) -> Simulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- HTTP plumbing -------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/v1/videos/generations", self._submit)
        app.router.add_get("/v1/characters_tasks/{task_id}", self._character_status)
        app.router.add_get("/v1/videos/generations/{task_id}", self._status)
        app.router.add_post("/v1/uploads/videos", self._upload)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/uploads/videos/{name}", self._uploaded_file)
        app.router.add_get("/f/image/{name}", self._image)
        app.router.add_get("/f/video/{name}", self._video)
        self.add_engine_routes(app)
        app.router.add_get("/_sim/scenario", self._get_scenario)
        app.router.add_post("/_sim/scenario", self._set_scenario)
        app.router.add_get("/_sim/requests", self._get_requests)
        app.router.add_delete("/_sim/requests", self._clear_requests)
        app.router.add_get("/_sim/tasks", self._get_tasks)
        app.router.add_get("/_sim/limits", self._get_limits)
        app.router.add_delete("/_sim/limits", self._reset_limits)
        app.router.add_post("/_sim/tasks/{task_id}/complete", self._force_complete)
        app.router.add_post("/_sim/tasks/{task_id}/fail", self._force_fail)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            response: web.StreamResponse = await handler(request)
            return response
        if request.path.startswith("/v1/"):
            body: Any = None
            if request.can_read_body and not request.content_type.startswith("multipart/"):
                with contextlib.suppress(ValueError, UnicodeDecodeError):
                    body = json.loads(await request.read())
            self.requests.append(RecordedRequest(request.method, request.rel_url.raw_path, body))
        delay = self.scenario.latency + random.uniform(0, self.scenario.latency_jitter)
        if request.path.startswith("/v1/"):
            delay += self.fault_dice.delay(self.scenario.fault_rates, self.scenario.slow_seconds)
        if delay > 0:  # a slow or uneven network: requests are counted when they arrive
            await asyncio.sleep(delay)
        response = await handler(request)
        return response

    def _refuse(self, request: web.Request, kind: Kind) -> web.Response | None:
        """Auth, then injected failures in order: 500, malformed, 503, 429."""
        scenario = self.scenario
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), scenario.api_key.encode()
        ):
            return api_error(
                401,
                401,
                "Authentication failed, please check your API key",
                "authentication_error",
            )
        if scenario.consume("server_errors"):
            return api_error(500, 500, "Internal server error", "server_error")
        if scenario.consume("malformed"):
            return web.Response(text=_MALFORMED_BODY, content_type="application/json")
        retry = f"{scenario.retry_after:g}"
        if kind == "submit" and scenario.consume("unavailable"):
            response = api_error(
                503, "rate_limit_unavailable", "Rate limiter unavailable, please retry later"
            )
            response.headers["Retry-After"] = retry
            return response
        if kind in ("submit", "query"):
            wait = self.limits.admit(kind)
            if wait is not None:
                response = api_error(429, "rate_limit_exceeded", "Async task request rate exceeded")
                response.headers.update(self.limits.headers(kind, wait))
                return response
        return self._refuse_at_rate(kind) or self._refuse_counted(kind)

    def _refuse_at_rate(self, kind: Kind) -> web.Response | None:
        """`Scenario.fault_rates`: 500 to status reads, 503 to creates, 429 to both."""
        rates, dice = self.scenario.fault_rates, self.fault_dice
        if kind == "query" and dice.roll(rates, "query_500"):
            return api_error(500, 500, "Internal server error", "server_error")
        if kind == "submit" and dice.roll(rates, "submit_503"):
            response = api_error(
                503, "rate_limit_unavailable", "Rate limiter unavailable, please retry later"
            )
            response.headers["Retry-After"] = f"{self.scenario.retry_after:g}"
            return response
        if kind in ("submit", "query") and dice.roll(rates, "rate_limited"):
            return self._limited(kind)
        return None

    def _refuse_counted(self, kind: Kind) -> web.Response | None:
        """The count-style 429s (`rate_limit_submits`, `rate_limit_queries`)."""
        scenario = self.scenario
        counter = {"submit": "rate_limit_submits", "query": "rate_limit_queries"}.get(kind)
        if counter is not None and scenario.consume(counter):
            return self._limited(kind)
        return None

    def _limited(self, kind: Kind) -> web.Response:
        """A 429 beyond the tier's windows, with the scenario's Retry-After."""
        scenario = self.scenario
        retry = f"{scenario.retry_after:g}"
        category, limit = _RATE_LIMITS[kind]
        response = api_error(429, "rate_limit_exceeded", "Async task request rate exceeded")
        response.headers.update(
            {
                "Retry-After": retry,
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + scenario.retry_after)),
                "X-RateLimit-Category": category,
            }
        )
        return response

    # --- API routes ----------------------------------------------------------------------

    async def _submit(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "submit")
        if refused is not None:
            return refused
        if self.scenario.out_of_credit:
            return api_error(
                402, 402, "Insufficient account balance, please top up", "payment_required"
            )
        if self.scenario.submit_status is not None:
            status, forced = self.scenario.submit_status
            return web.json_response(forced, status=status)
        try:
            body: Any = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and "prompt" in body:
            return await self._submit_video(body)
        checked = validate_create(body, self.tasks)
        if isinstance(checked, str):
            return api_error(400, 400, checked, "invalid_request_error")
        callback = body.get("callback_url") if isinstance(body, dict) else None
        if (refused := self.refuse_callback(callback)) is not None:
            return refused
        if self.is_retired(checked.model):
            return retired(checked.model)
        task = SimTask(
            id=new_task_id(),
            model=checked.model,
            start=checked.start,
            end=checked.end,
            url=checked.url,
            from_task=checked.from_task,
        )
        self._start(task, callback)
        log.info("created %s (%s %s-%s)", task.id, task.model, task.start, task.end)
        if self.scenario.submit_delay > 0:  # created, but the answer is slow to come
            await asyncio.sleep(self.scenario.submit_delay)
        return web.json_response(task.to_json())

    def _start(self, task: SimTask, callback: object = None) -> None:
        """Register a new task and run it as the scenario says; a `callback` URL gets
        its webhook when the task ends."""
        if isinstance(callback, str) and callback:
            task.callback_url = callback
            task.on_final = self._send_webhook
        self.tasks[task.id] = task
        self.submits += 1
        assert self._client is not None
        task.runner = asyncio.create_task(
            run_task(
                task,
                self.plan_task(),
                live=lambda: self.scenario,
                base_url=self.base_url,
                client=self._client,
            ),
            name=f"sim-{task.id}",
        )

    def plan_task(self) -> Scenario:
        """The scenario a new task follows: today's, its durations spread if asked."""
        plan = self.scenario.copy()
        spread = plan.duration_spread
        if spread > 0:
            if self._durations_seed != plan.duration_seed:
                self._durations.seed(plan.duration_seed)
                self._durations_seed = plan.duration_seed
            factor = self._durations.uniform(1 - spread, 1 + spread)
            plan.queued_for *= factor
            plan.step_interval *= factor
        return plan

    async def _submit_video(self, body: dict[str, Any]) -> web.Response:
        """A create request with a prompt: video generation."""
        if body.get("model") in ENGINE_MODELS:
            return await self.submit_engine_video(body)
        checked = validate_video(body, self.tasks)
        if isinstance(checked, str):
            return api_error(400, 400, checked, "invalid_request_error")
        if self.is_retired(checked.model):
            return retired(checked.model)
        task = SimTask(
            id=new_task_id(),
            model=checked.model,
            start=0.0,
            end=float(checked.duration),
            from_task=checked.character_url,
            kind="video",
            prompt=checked.prompt,
            duration=checked.duration,
            aspect_ratio=checked.aspect_ratio,
        )
        self._start(task)
        log.info("created video %s (%s %ss)", task.id, task.model, task.duration)
        return web.json_response(task.to_json())

    def _send_webhook(self, task: SimTask) -> None:
        """Deliver the task's final event to its callback URL (in the background)."""
        secret = self.scenario.webhook_secret
        if secret is None or task.callback_url is None or self._client is None:
            return
        sent = signed(event_for(task), secret)
        delivery = asyncio.ensure_future(deliver(self._client, task.callback_url, sent))
        self.webhooks_sent.append(sent)
        self._deliveries.add(delivery)
        delivery.add_done_callback(self._deliveries.discard)

    async def _character_status(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "query")
        if refused is not None:
            return refused
        if self.scenario.characters_tasks_404:
            return api_error(404, 404, "Task not found", "not_found_error")
        return self._task_answer(request)

    async def _status(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "query")
        return refused if refused is not None else self._task_answer(request, by_business_id=True)

    def _task_answer(self, request: web.Request, *, by_business_id: bool = False) -> web.Response:
        task_id = request.match_info["task_id"]
        task = self.find_task(task_id) if by_business_id else self.tasks.get(task_id)
        if task is None or self.scenario.consume("not_found_queries"):
            return api_error(404, 404, "Task not found", "not_found_error")
        return web.json_response(task.to_json())

    async def _models(self, request: web.Request) -> web.Response:
        """The models offered, OpenAI style (`{"object": "list", "data": [{"id": ...}]}`)."""
        refused = self._refuse(request, "query")
        if refused is not None:
            return refused
        # The engines' models are left out: tests/cogs/test_doctor.py pins today's listing.
        offered = [model for model in MODELS if not self.is_retired(model)]
        data = [{"id": model, "object": "model", "owned_by": "sora"} for model in offered]
        return web.json_response({"object": "list", "data": data})
