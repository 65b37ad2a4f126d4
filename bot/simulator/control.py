"""The simulator's scripting: ending tasks from the same process (`complete_task`,
`fail_task`) and the `/_sim/*` control API over HTTP (scenario, recorded requests, rate
limits, tasks). Mixed into `bot.simulator.server.Simulator`, which owns the state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.simulator.limits import RateLimits
from bot.simulator.scenario import Scenario
from bot.simulator.tasks import SimTask, new_character, video_url


class SimulatorControls:
    """What tests and the command line script (see `Simulator`)."""

    scenario: Scenario
    tasks: dict[str, SimTask]
    requests: list[Any]
    base_url: str
    _limits: RateLimits
    _limits_key: tuple[Any, ...]
    _durations_seed: int | None

    @property
    def limits(self) -> RateLimits:
        raise NotImplementedError

    # --- scripting from the same process -------------------------------------------------

    def complete_task(self, task_id: str, characters: int | None = None) -> SimTask:
        """End a task as completed now; KeyError if unknown, ValueError if already over."""
        task = self._stoppable(task_id)
        if task.kind == "video":
            task.complete_video(video_url(self.base_url, task.id))
            return task
        count = self.scenario.characters if characters is None else characters
        task.complete([new_character(task.id, n, self.base_url) for n in range(1, count + 1)])
        return task

    def fail_task(
        self,
        task_id: str,
        code: str = "generation_failed",
        message: str = "Generation failed: Content violates the content policy",
    ) -> SimTask:
        """End a task as failed now; KeyError if unknown, ValueError if already over."""
        task = self._stoppable(task_id)
        task.fail(code, message)
        return task

    def _stoppable(self, task_id: str) -> SimTask:
        task = self.tasks[task_id]
        if task.is_final:
            raise ValueError(f"task {task_id} is already {task.status}")
        if task.runner is not None:
            task.runner.cancel()
        return task

    # --- control API ---------------------------------------------------------------------

    async def _get_scenario(self, request: web.Request) -> web.Response:
        return web.json_response(self.scenario.to_dict())

    async def _set_scenario(self, request: web.Request) -> web.Response:
        try:
            fields = json.loads(await request.read())
            if not isinstance(fields, dict):
                raise ValueError("the body must be a JSON object of scenario fields")
            self.scenario.update(**fields)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(self.scenario.to_dict())

    async def _get_requests(self, request: web.Request) -> web.Response:
        recorded = [entry._asdict() for entry in self.requests]
        return web.json_response(recorded)

    async def _clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return web.json_response([])

    async def _get_limits(self, request: web.Request) -> web.Response:
        return web.json_response(self.limits.to_dict())

    def reset_limits(self) -> None:
        """Start the rate-limit windows and counters afresh (and the dice of task
        durations: the next tasks take the times the first ones of the seed took)."""
        self._limits_key = (None, 0, 0)
        self._limits = RateLimits(None)
        self._durations_seed = None

    async def _reset_limits(self, request: web.Request) -> web.Response:
        self.reset_limits()
        return web.json_response(self.limits.to_dict())

    async def _get_tasks(self, request: web.Request) -> web.Response:
        return web.json_response({task_id: t.to_json() for task_id, t in self.tasks.items()})

    async def _force_complete(self, request: web.Request) -> web.Response:
        options = await _optional_json(request)
        characters = options.get("characters")
        if characters is not None and (not isinstance(characters, int) or characters < 0):
            return web.json_response({"error": "characters must be an integer"}, status=400)
        return self._force(request, lambda task_id: self.complete_task(task_id, characters))

    async def _force_fail(self, request: web.Request) -> web.Response:
        options = await _optional_json(request)
        code = str(options.get("code", "generation_failed"))
        message = str(
            options.get("message", "Generation failed: Content violates the content policy")
        )
        return self._force(request, lambda task_id: self.fail_task(task_id, code, message))

    def _force(self, request: web.Request, action: Callable[[str], SimTask]) -> web.Response:
        task_id = request.match_info["task_id"]
        try:
            task = action(task_id)
        except KeyError:
            return web.json_response({"error": f"unknown task {task_id}"}, status=404)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(task.to_json())


async def _optional_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or {} when there is no (valid) body."""
    try:
        data = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
