"""Image uploads and Seedance 2 private avatars of the simulator (docs/engines.md, 1-2)."""

from __future__ import annotations

import httpx

from bot.simulator import Simulator
from tests.simulator.engine_helpers import (
    AVATARS,
    face_png,
    new_asset,
    plain_jpeg,
    poll,
    upload_image,
)
from tests.simulator.helpers import error_body


async def test_an_uploaded_image_is_served_at_its_public_url(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    content = face_png()
    response = await client.post(
        "/v1/uploads/images",
        files={"file": ("still.png", content, "image/png")},
        data={"purpose": "reference"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["data"]["id"].startswith("upload_")
    assert body["data"]["mime_type"] == "image/png"
    assert body["data"]["size"] == len(content)
    url = body["data"]["url"]
    assert url.startswith(f"{simulator.base_url}/uploads/images/")
    async with httpx.AsyncClient() as anonymous:  # public: no key needed
        fetched = await anonymous.get(url)
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["content-type"] == "image/png"


async def test_an_image_upload_refuses_other_files(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    video = await client.post(
        "/v1/uploads/images", files={"file": ("clip.mp4", b"abc", "video/mp4")}
    )
    assert video.status_code == 400
    assert video.json() == {"success": False, "message": "Unsupported file type"}
    simulator.scenario.max_upload_bytes = 100
    large = await client.post(
        "/v1/uploads/images", files={"file": ("big.jpg", bytes(101), "image/jpeg")}
    )
    assert large.status_code == 400
    assert large.json()["message"] == "Image too large. Maximum size is 100 bytes"


async def test_an_asset_is_processing_then_active(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.asset_delay = 0.1
    url = await upload_image(client, plain_jpeg(), "still.jpg")
    asset_id = await new_asset(client, url)
    seen = await poll(
        client, f"{AVATARS}/assets/{asset_id}", lambda b: b["data"]["status"] != "processing"
    )
    assert seen[0]["data"]["status"] == "processing"
    last = seen[-1]
    assert last["success"] is True
    assert last["data"]["status"] == "active"
    assert last["data"]["asset_id"] == asset_id
    assert last["data"]["asset_type"] == "image"
    assert last["data"]["source_url"] == url
    assert last["data"]["group_id"].startswith("group_")
    async with httpx.AsyncClient(base_url=simulator.base_url) as control:
        listed = (await control.get("/_sim/assets")).json()
    assert listed == {asset_id: last["data"]}


async def test_a_face_is_refused_only_when_the_switch_is_on(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.asset_delay = 0
    url = await upload_image(client, face_png(), "face.png")
    allowed = await new_asset(client, url)
    simulator.scenario.refuse_faces = True
    refused = await new_asset(client, url)
    plain = await new_asset(client, await upload_image(client, plain_jpeg(), "plain.jpg"))
    outcomes = {}
    for asset_id in (allowed, refused, plain):
        seen = await poll(
            client, f"{AVATARS}/assets/{asset_id}", lambda b: b["data"]["status"] != "processing"
        )
        outcomes[asset_id] = seen[-1]["data"]
    assert outcomes[allowed]["status"] == "active", outcomes[allowed]["error"]
    assert outcomes[plain]["status"] == "active"
    assert outcomes[refused]["status"] == "failed"
    assert outcomes[refused]["error"]["code"] == "face_not_allowed"
    assert "faces are not allowed" in outcomes[refused]["error"]["message"]


async def test_an_asset_can_be_scripted_to_fail_and_unreadable_images_fail(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.asset_delay = 0
    unreadable = await new_asset(client, f"{simulator.base_url}/uploads/images/missing.png")
    simulator.scenario.asset_fail_with = "Asset review failed"
    scripted = await new_asset(client, await upload_image(client, plain_jpeg(), "p.jpg"))
    for asset_id, message in (
        (unreadable, "The image at source_url could not be read"),
        (scripted, "Asset review failed"),
    ):
        seen = await poll(
            client, f"{AVATARS}/assets/{asset_id}", lambda b: b["data"]["status"] != "processing"
        )
        assert seen[-1]["data"]["status"] == "failed"
        assert seen[-1]["data"]["error"]["message"] == message


async def test_avatar_requests_are_checked(client: httpx.AsyncClient) -> None:
    nameless = await client.post(f"{AVATARS}/groups", json={"description": "x"})
    assert nameless.status_code == 400
    assert nameless.json() == error_body(
        400, "Invalid request: name is required", "invalid_request_error"
    )
    group = (await client.post(f"{AVATARS}/groups", json={"name": "G"})).json()["data"]
    bad = {
        "group_X": "Invalid request: group_id group_X not found",
        "type": "Invalid request: asset_type must be image, video or audio",
        "url": "Invalid request: source_url must be a public http or https URL",
    }
    bodies = {
        "group_X": {"group_id": "group_X", "asset_type": "image", "source_url": "http://a/b"},
        "type": {"group_id": group["group_id"], "asset_type": "text", "source_url": "http://a"},
        "url": {"group_id": group["group_id"], "asset_type": "image", "source_url": "file:///x"},
    }
    for key, body in bodies.items():
        response = await client.post(f"{AVATARS}/assets", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["message"] == bad[key]
    unknown = await client.get(f"{AVATARS}/assets/asset_nope")
    assert unknown.status_code == 404
    assert unknown.json() == error_body(404, "Asset not found", "not_found_error")
