"""Seedance 2 private avatars of the simulator (docs/engines.md, section 2): groups, and
assets made from a `source_url` that stay `processing` for `asset_delay` seconds, then turn
`active`, or `failed` with a message (the scenario's `asset_fail_with`, an image that
cannot be read, or, with `refuse_faces`, a face found by OpenCV's Haar cascade).
Mixed into `bot.simulator.server.Simulator`, which owns the state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import httpx
import numpy as np
from aiohttp import web

from bot.media.scoring import cascade
from bot.simulator.answers import api_error, invalid
from bot.simulator.media_check import MediaProblem, download
from bot.simulator.scenario import Scenario

log = logging.getLogger(__name__)

AVATAR_PATH = "/v1/videos/doubao-seedance-2-0/private-avatar"
ASSET_TYPES = ("image", "video", "audio")
PROCESSING, ACTIVE, FAILED = "processing", "active", "failed"
FACE_REFUSED = "Real human faces are not allowed in private avatars; use real-avatar verification"
UNREADABLE = "The image at source_url could not be read"


@dataclass
class Asset:
    """One private-avatar asset as the simulator keeps it."""

    asset_id: str
    group_id: str
    asset_type: str
    source_url: str
    name: str | None = None
    status: str = PROCESSING
    error: dict[str, str] | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))
    runner: asyncio.Task[None] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The asset as `GET .../assets/{asset_id}` answers it (in `data`)."""
        body: dict[str, Any] = {
            "asset_id": self.asset_id,
            "group_id": self.group_id,
            "asset_type": self.asset_type,
            "source_url": self.source_url,
            "status": self.status,
            "created_at": self.created_at,
        }
        if self.name is not None:
            body["name"] = self.name
        if self.error is not None:
            body["error"] = self.error
        return body


def has_face(data: bytes) -> bool | None:
    """Whether an image shows a frontal face (None: not an image); blocking."""
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return None
    scale = min(1.0, 360 / max(image.shape[:2]))
    if scale < 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    faces = cascade("face").detectMultiScale(image, scaleFactor=1.1, minNeighbors=5)
    return len(faces) > 0


async def judge_asset(
    asset: Asset, plan: Scenario, client: httpx.AsyncClient
) -> tuple[str, str] | None:
    """(code, message) when the asset is refused, None when it turns active."""
    if plan.asset_fail_with is not None:
        return "asset_failed", plan.asset_fail_with
    if asset.asset_type != "image":
        return None
    data = await download(client, asset.source_url)
    if isinstance(data, MediaProblem):
        return "download_failed", UNREADABLE
    face = await asyncio.to_thread(has_face, data)
    if face is None:
        return "invalid_image", UNREADABLE
    if face and plan.refuse_faces:
        return "face_not_allowed", FACE_REFUSED
    return None


class SimulatorAvatars:
    """Private-avatar groups and assets (see `Simulator`)."""

    scenario: Scenario
    groups: dict[str, dict[str, Any]]
    assets: dict[str, Asset]
    _client: httpx.AsyncClient | None

    def _refuse(
        self, request: web.Request, kind: Literal["submit", "query", "upload"]
    ) -> web.Response | None:
        raise NotImplementedError

    def add_avatar_routes(self, app: web.Application) -> None:
        """The three private-avatar endpoints, and `GET /_sim/assets` (every asset)."""
        app.router.add_post(f"{AVATAR_PATH}/groups", self._create_group)
        app.router.add_post(f"{AVATAR_PATH}/assets", self._create_asset)
        app.router.add_get(f"{AVATAR_PATH}/assets/{{asset_id}}", self._read_asset)
        app.router.add_get("/_sim/assets", self._list_assets)  # control API: no auth

    async def _create_group(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "submit")
        if refused is not None:
            return refused
        body = await _json_object(request)
        name = body.get("name") if body is not None else None
        if body is None or not isinstance(name, str) or not name.strip():
            return invalid("Invalid request: name is required")
        group_id = "group_" + secrets.token_hex(8)
        description = body.get("description")
        self.groups[group_id] = {"group_id": group_id, "name": name, "description": description}
        return web.json_response({"success": True, "data": {"group_id": group_id}})

    async def _create_asset(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "submit")
        if refused is not None:
            return refused
        checked = _check_asset(await _json_object(request), self.groups)
        if isinstance(checked, str):
            return invalid(checked)
        self.assets[checked.asset_id] = checked
        assert self._client is not None
        checked.runner = asyncio.create_task(
            self._process(checked, self.scenario.copy(), self._client),
            name=f"sim-{checked.asset_id}",
        )
        return web.json_response({"success": True, "data": {"asset_id": checked.asset_id}})

    async def _read_asset(self, request: web.Request) -> web.Response:
        refused = self._refuse(request, "query")
        if refused is not None:
            return refused
        asset = self.assets.get(request.match_info["asset_id"])
        if asset is None:
            return api_error(404, 404, "Asset not found", "not_found_error")
        return web.json_response({"success": True, "data": asset.to_json()})

    async def _list_assets(self, request: web.Request) -> web.Response:
        return web.json_response({asset_id: a.to_json() for asset_id, a in self.assets.items()})

    async def _process(self, asset: Asset, plan: Scenario, client: httpx.AsyncClient) -> None:
        """Keep the asset processing for `asset_delay`, then judge it."""
        try:
            await asyncio.sleep(plan.asset_delay)
            refusal = await judge_asset(asset, plan, client)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated asset %s crashed", asset.asset_id)
            refusal = ("internal_error", "The simulator failed while processing the asset")
        if refusal is None:
            asset.status = ACTIVE
        else:
            asset.status = FAILED
            asset.error = {"code": refusal[0], "message": refusal[1]}

    def active_assets(self) -> set[str]:
        """Ids of the assets a video may use."""
        return {asset_id for asset_id, a in self.assets.items() if a.status == ACTIVE}


def _check_asset(body: dict[str, Any] | None, groups: dict[str, Any]) -> Asset | str:
    """A new asset from a create request, or why it is refused."""
    if body is None:
        return "Invalid request: body must be a JSON object"
    group_id, asset_type, url = body.get("group_id"), body.get("asset_type"), body.get("source_url")
    if not isinstance(group_id, str) or group_id not in groups:
        return f"Invalid request: group_id {group_id} not found"
    if asset_type not in ASSET_TYPES:
        return "Invalid request: asset_type must be image, video or audio"
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return "Invalid request: source_url must be a public http or https URL"
    name = body.get("name")
    return Asset(
        asset_id="asset_" + secrets.token_hex(8),
        group_id=group_id,
        asset_type=str(asset_type),
        source_url=url,
        name=name if isinstance(name, str) else None,
    )


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not one."""
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
