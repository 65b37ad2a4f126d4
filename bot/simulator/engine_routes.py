"""The simulator's endpoints for the engines beyond sora-2 (docs/engines.md): image
uploads, Seedance 2 and Vidu Q3 video requests (looked up by `client_business_id` too, and
a signed webhook to `callback_url` as for characters),
the balance, and the sora-2 family retired. Mixed into `bot.simulator.server.Simulator`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from bot.simulator.answers import api_error, invalid, retired
from bot.simulator.avatars import SimulatorAvatars
from bot.simulator.balance import balance_answer
from bot.simulator.engines import SEEDANCE, validate_seedance, validate_vidu
from bot.simulator.tasks import MODELS, SimTask, new_task_id
from bot.simulator.uploads import IMAGES, MAX_IMAGE_BYTES, receive_upload

log = logging.getLogger(__name__)


class SimulatorEngines(SimulatorAvatars):
    """Images, engine videos and the balance (see `Simulator`)."""

    tasks: dict[str, SimTask]
    submits: int
    base_url: str
    business_ids: dict[str, str]  # client_business_id -> task id
    _upload_dir: Path | None

    def _start(self, task: SimTask, callback: object = None) -> None:
        raise NotImplementedError

    def _refuse(
        self, request: web.Request, kind: Literal["submit", "query", "upload"]
    ) -> web.Response | None:
        raise NotImplementedError

    def add_engine_routes(self, app: web.Application) -> None:
        """Image uploads, the private avatars and the balance."""
        app.router.add_post("/v1/uploads/images", self._upload_image)
        app.router.add_get("/uploads/images/{name}", self._uploaded_image)
        app.router.add_get("/v1/user/balance", self._balance)
        app.router.add_get("/v1/balance", self._balance)
        self.add_avatar_routes(app)

    def refuse_callback(self, callback: object) -> web.Response | None:
        """400 when a request names a `callback_url` but webhooks are not configured."""
        if callback is None or self.scenario.webhook_secret is not None:
            return None
        return api_error(
            400,
            "webhook_not_configured",
            "Webhooks are not configured for this API token",
            "invalid_request_error",
        )

    def is_retired(self, model: str) -> bool:
        """Whether the service answers "model not found" for `model` now."""
        scenario = self.scenario
        return model in scenario.retired_models or (scenario.sora_retired and model in MODELS)

    def unreadable_image(self, body: dict[str, Any]) -> str | None:
        """Vidu reads every subject image: one uploaded here that is gone (its URL no
        longer lives) is refused, as toapis says when an image cannot be read."""
        prefix = f"{self.base_url}/uploads/images/"
        metadata = body.get("metadata")
        subjects = metadata.get("subjects") if isinstance(metadata, dict) else None
        for subject in subjects if isinstance(subjects, list) else ():
            for url in subject.get("images") or () if isinstance(subject, dict) else ():
                name = str(url).removeprefix(prefix) if str(url).startswith(prefix) else None
                folder = self._upload_dir
                if name is not None and folder is not None and not (folder / name).is_file():
                    return f"Invalid request: image {url} cannot be read"
        return None

    async def _upload_image(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "upload")
        if refused is not None:
            return refused
        assert self._upload_dir is not None
        status, body = await receive_upload(
            request,
            self._upload_dir,
            max_bytes=min(MAX_IMAGE_BYTES, self.scenario.max_upload_bytes),
            base_url=self.base_url,
            kind=IMAGES,
        )
        return web.json_response(body, status=status)

    async def _uploaded_image(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        folder = self._upload_dir
        path = folder / name if folder is not None and "/" not in name else None
        if path is None or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def _balance(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "query")
        if refused is not None:
            return refused
        return web.json_response(balance_answer(self.scenario, self.submits))

    async def submit_engine_video(self, body: dict[str, Any]) -> web.Response:
        """A Seedance 2 or Vidu Q3 video request (the model is one of `ENGINE_MODELS`)."""
        model = str(body.get("model"))
        if self.is_retired(model):
            return retired(model)
        if model in SEEDANCE:
            checked = validate_seedance(body, self.active_assets())
        else:
            checked = validate_vidu(body, needs_image_urls=self.scenario.vidu_needs_image_urls)
            if not isinstance(checked, str):
                checked = self.unreadable_image(body) or checked
        if isinstance(checked, str):
            return invalid(checked)
        callback = body.get("callback_url")
        if (refused := self.refuse_callback(callback)) is not None:
            return refused
        task = SimTask(
            id=new_task_id(),
            model=model,
            start=0.0,
            end=float(max(checked.duration, 1)),
            kind="video",
            prompt=checked.prompt,
            duration=checked.duration,
            aspect_ratio=checked.aspect_ratio,
        )
        self._start(task, callback)
        if checked.client_business_id is not None:
            self.business_ids[checked.client_business_id] = task.id
        log.info("created video %s (%s %ss)", task.id, model, task.duration)
        return web.json_response(task.to_json())

    def find_task(self, task_or_business_id: str) -> SimTask | None:
        """A task by its id, or a Seedance task by its `client_business_id`."""
        task = self.tasks.get(task_or_business_id)
        if task is None and task_or_business_id in self.business_ids:
            task = self.tasks.get(self.business_ids[task_or_business_id])
        return task
