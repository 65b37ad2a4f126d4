"""Helpers of the simulator tests for the engines beyond sora-2 (docs/engines.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import cv2
import httpx
from skimage import data

from bot.simulator.media_check import make_avatar_jpeg

AVATARS = "/v1/videos/doubao-seedance-2-0/private-avatar"
GENERATIONS = "/v1/videos/generations"


def face_png(side: int = 256) -> bytes:
    """scikit-image's astronaut photo (a real face; it ships in the package) as a PNG."""
    photo = data.astronaut()[:, :, ::-1]  # type: ignore[no-untyped-call]
    ok, encoded = cv2.imencode(".png", cv2.resize(photo, (side, side)))
    assert ok
    return bytes(encoded.tobytes())


def plain_jpeg() -> bytes:
    """A plain-coloured JPEG: no face in it."""
    return make_avatar_jpeg(96)


async def upload_image(client: httpx.AsyncClient, content: bytes, name: str) -> str:
    """Upload an image and return its public URL."""
    mime = "image/png" if name.endswith(".png") else "image/jpeg"
    response = await client.post("/v1/uploads/images", files={"file": (name, content, mime)})
    assert response.status_code == 200, response.text
    url: str = response.json()["data"]["url"]
    return url


async def new_asset(client: httpx.AsyncClient, source_url: str) -> str:
    """Create a group and one image asset in it; the asset id."""
    group = await client.post(f"{AVATARS}/groups", json={"name": "Sky"})
    assert group.status_code == 200, group.text
    asset = await client.post(
        f"{AVATARS}/assets",
        json={
            "group_id": group.json()["data"]["group_id"],
            "asset_type": "image",
            "source_url": source_url,
            "name": "still 1",
        },
    )
    assert asset.status_code == 200, asset.text
    asset_id: str = asset.json()["data"]["asset_id"]
    return asset_id


async def poll(
    client: httpx.AsyncClient, path: str, done: Any, *, within: float = 15.0
) -> list[dict[str, Any]]:
    """GET `path` until `done(body)`; every body seen, the last one last."""
    deadline = asyncio.get_running_loop().time() + within
    seen: list[dict[str, Any]] = []
    while True:
        response = await client.get(path)
        assert response.status_code == 200, response.text
        seen.append(response.json())
        if done(seen[-1]):
            return seen
        assert asyncio.get_running_loop().time() < deadline, f"stuck: {seen[-1]}"
        await asyncio.sleep(0.01)


async def active_asset(client: httpx.AsyncClient, content: bytes, name: str) -> str:
    """Upload an image, make it an asset and wait until it is active; its id."""
    asset_id = await new_asset(client, await upload_image(client, content, name))
    seen = await poll(client, f"{AVATARS}/assets/{asset_id}", _settled)
    assert seen[-1]["data"]["status"] == "active", seen[-1]
    return asset_id


def _settled(body: dict[str, Any]) -> bool:
    return bool(body["data"]["status"] != "processing")


def task_over(body: dict[str, Any]) -> bool:
    """A video task that has completed or failed."""
    return body["status"] in ("completed", "failed")
