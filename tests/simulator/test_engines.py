"""Seedance 2 and Vidu Q3 videos, the sora-2 family retired, and the balance
(docs/engines.md, sections 0 and 4-6), over real HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.http.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.providers.base import Task
from bot.simulator import Simulator
from tests.simulator.engine_helpers import (
    GENERATIONS,
    active_asset,
    face_png,
    plain_jpeg,
    poll,
    task_over,
    upload_image,
)
from tests.simulator.helpers import create_body, error_body

NEEDS_IMAGE_URLS = "Invalid request: image_urls is required for viduq3 (up to 7 reference images)"


def _invalid(message: str) -> dict[str, Any]:
    return error_body(400, message, "invalid_request_error")


async def _finished_video(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(GENERATIONS, json=body)
    assert response.status_code == 200, response.text
    task_id = response.json()["id"]
    last = (await poll(client, f"{GENERATIONS}/{task_id}", task_over))[-1]
    Task.model_validate(last)
    return last


async def test_a_seedance_video_with_active_assets_completes(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.asset_delay = 0
    assets = [await active_asset(client, plain_jpeg(), f"s{n}.jpg") for n in (1, 2)]
    body = {
        "model": "seedance-2-fast",
        "prompt": "the character from images 1-2 waves",
        "duration": 5,
        "aspect_ratio": "21:9",
        "resolution": "720p",
        "generate_audio": True,
        "image_with_roles": [{"url": f"asset://{a}", "role": "reference_image"} for a in assets],
        "client_business_id": "biz-7f3a",
    }
    last = await _finished_video(client, body)
    assert last["status"] == "completed"
    assert last["model"] == "seedance-2-fast"
    assert last["result"]["type"] == "video"
    async with httpx.AsyncClient() as anonymous:
        video = await anonymous.get(last["result"]["data"][0]["url"])
    assert video.status_code == 200
    assert video.content[4:8] == b"ftyp"
    by_business_id = await client.get(f"{GENERATIONS}/biz-7f3a")
    assert by_business_id.status_code == 200
    assert by_business_id.json()["id"] == last["id"]


async def test_a_seedance_video_refuses_unknown_or_unready_assets(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.asset_delay = 30  # stays processing for the whole test
    url = await upload_image(client, plain_jpeg(), "p.jpg")
    group = (await client.post(f"{_AVATARS}/groups", json={"name": "G"})).json()["data"]
    processing = await client.post(
        f"{_AVATARS}/assets",
        json={"group_id": group["group_id"], "asset_type": "image", "source_url": url},
    )
    for asset_id in ("asset_unknown", processing.json()["data"]["asset_id"]):
        response = await client.post(
            GENERATIONS,
            json={
                "model": "seedance-2",
                "prompt": "the character from image 1",
                "image_with_roles": [{"url": f"asset://{asset_id}", "role": "reference_image"}],
            },
        )
        assert response.status_code == 400
        assert response.json() == _invalid(
            f"Invalid request: asset {asset_id} not found or not active"
        )
    assert simulator.submits == 0


_AVATARS = "/v1/videos/doubao-seedance-2-0/private-avatar"
_SUBJECTS = {"subjects": [{"name": "sky", "images": ["http://127.0.0.1:9/a.png"]}]}


_PNG = "http://127.0.0.1:9/a.png"
_REFERENCE = {"url": _PNG, "role": "reference_image"}
_CHECKED: list[tuple[dict[str, Any], str]] = [
    ({"duration": 3}, "duration for seedance-2 must be 4-15 seconds, or 0/-1 for automatic"),
    (
        {"model": "seedance-2-mini", "duration": 0},
        "duration for seedance-2-mini must be 4-15 seconds",
    ),
    (
        {"aspect_ratio": "5:4"},
        "aspect_ratio must be one of 21:9, 16:9, 4:3, 1:1, 3:4, 9:16, adaptive",
    ),
    (
        {"model": "seedance-2-fast", "resolution": "4k"},
        "resolution for seedance-2-fast must be one of 480p, 720p",
    ),
    ({"image_with_roles": [_REFERENCE] * 10}, "at most 9 reference images"),
    (
        {"image_with_roles": [_REFERENCE, {"url": _PNG, "role": "first_frame"}]},
        "reference images cannot be combined with first/last frames",
    ),
    (
        {"model": "viduq3", "duration": 17, "metadata": _SUBJECTS},
        "duration for viduq3 must be 3-16 seconds",
    ),
    ({"model": "viduq3", "aspect_ratio": "21:9"}, "aspect_ratio must be one of 16:9, 9:16, 1:1"),
    (
        {"model": "viduq3", "metadata": {"subjects": [{"name": "sky", "images": [_PNG] * 4}]}},
        "subject sky needs 1-3 image URLs",
    ),
    ({"model": "viduq3", "prompt": "x" * 5001}, "prompt must be at most 5000 characters"),
]


@pytest.mark.parametrize(("fields", "message"), _CHECKED)
async def test_engine_requests_are_checked_as_documented(
    simulator: Simulator, client: httpx.AsyncClient, fields: dict[str, Any], message: str
) -> None:
    body = {"model": "seedance-2", "prompt": "a walk in the rain"} | fields
    response = await client.post(GENERATIONS, json=body)
    assert response.status_code == 400
    assert response.json() == _invalid(f"Invalid request: {message}")
    assert simulator.submits == 0


async def test_a_vidu_video_with_subjects_completes(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    images = [await upload_image(client, face_png(), f"f{n}.png") for n in (1, 2, 3)]
    body = {
        "model": "viduq3",
        "prompt": "@sky walks along the beach",
        "duration": 8,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "audio": True,
        "metadata": {"subjects": [{"name": "sky", "images": images}]},
    }
    last = await _finished_video(client, body)
    assert last["status"] == "completed"
    assert last["model"] == "viduq3"
    assert last["result"]["type"] == "video"


async def test_vidu_asks_for_image_urls_when_the_switch_is_on(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.vidu_needs_image_urls = True
    image = await upload_image(client, plain_jpeg(), "s.jpg")
    body: dict[str, Any] = {
        "model": "viduq3",
        "prompt": "@sky waves",
        "metadata": {"subjects": [{"name": "sky", "images": [image]}]},
    }
    asked = await client.post(GENERATIONS, json=body)
    assert asked.status_code == 400
    assert asked.json() == _invalid(NEEDS_IMAGE_URLS)
    assert simulator.submits == 0
    last = await _finished_video(client, body | {"image_urls": [image]})
    assert last["status"] == "completed"


async def test_a_retired_sora_family_answers_model_not_found(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.sora_retired = True
    gone = {
        "sora-2": create_body(url="http://127.0.0.1:9/clip.mp4"),
        "sora-2-pro": {"model": "sora-2-pro", "prompt": "a cat", "duration": 15},
    }
    for model, body in gone.items():
        response = await client.post(GENERATIONS, json=body | {"model": model})
        assert response.status_code == 400
        assert response.json() == error_body(
            "model_not_found",
            f"The model `{model}` does not exist or is not available",
            "invalid_request_error",
        )
    models = {entry["id"] for entry in (await client.get("/v1/models")).json()["data"]}
    assert not models & {"sora-2", "sora-2-pro", "sora-2-vip"}
    still_served = await _finished_video(
        client, {"model": "seedance-2-mini", "prompt": "a cat naps", "duration": 4}
    )
    assert still_served["status"] == "completed"
    assert simulator.submits == 1


async def test_the_balance_shows_what_tasks_spent_and_an_empty_account(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(credits=1000, credits_per_task=40)
    fresh = (await client.get("/v1/user/balance")).json()
    assert fresh == {
        "success": True,
        "remain_balance": 5.0,
        "used_balance": 0.0,
        "remain_credits": 1000.0,
        "used_credits": 0.0,
        "unlimited_quota": False,
    }
    await _finished_video(client, {"model": "viduq3", "prompt": "a fox runs"})
    spent = (await client.get("/v1/balance")).json()
    assert (spent["remain_credits"], spent["used_credits"]) == (960.0, 40.0)
    simulator.scenario.out_of_credit = True
    empty = (await client.get("/v1/user/balance")).json()
    assert empty["remain_credits"] == 0
    refused = await client.post(GENERATIONS, json={"model": "viduq3", "prompt": "a fox"})
    assert refused.status_code == 402
    simulator.scenario.out_of_credit = False  # a top-up
    assert (await client.get("/v1/user/balance")).json()["remain_credits"] == 960.0


async def test_a_seedance_video_with_a_callback_sends_one_signed_event(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    body = {"model": "seedance-2", "prompt": "a cat", "callback_url": "http://127.0.0.1:9/x"}
    refused = await client.post(GENERATIONS, json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "webhook_not_configured"
    received: asyncio.Queue[tuple[dict[str, Any], str, str, str]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        raw = await request.read()
        headers = request.headers
        signature = headers[SIGNATURE_HEADER].removeprefix("v1=")
        expected = sign("s3cret", headers[ID_HEADER], headers[TIMESTAMP_HEADER], raw)
        await received.put((json.loads(raw), signature, expected, request.path))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        simulator.scenario.webhook_secret = "s3cret"
        port = runner.addresses[0][1]
        last = await _finished_video(
            client, body | {"callback_url": f"http://127.0.0.1:{port}/hook"}
        )
        event, signature, expected, path = await asyncio.wait_for(received.get(), 10)
    finally:
        await runner.cleanup()
    assert path == "/hook" and signature == expected
    assert event["type"] == "generation.completed"
    assert event["data"]["task_id"] == last["id"]
    assert event["data"]["task_type"] == "video"
    assert event["data"]["result"] == last["result"]
