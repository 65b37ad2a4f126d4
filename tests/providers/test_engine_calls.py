"""The client's calls for Seedance 2 and Vidu Q3 against the simulator, over real sockets
(docs/engines.md): image uploads, private avatars, engine videos and business ids."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from bot.net.rate_budget import AccountBudgets, tier_limits
from bot.providers.avatars import AssetStatus, AvatarAsset
from bot.providers.base import (
    AssetRefusedError,
    AssetUnusableError,
    FaceRefusedError,
    ImageUrlsRequiredError,
    RateLimitedError,
    TaskNotFoundError,
    TaskStatus,
    UploadRejectedError,
)
from bot.providers.casting import Cast, cast_prompt
from bot.providers.engines import Engine
from bot.providers.toapis import ToapisClient
from bot.providers.video import VideoRequest, request_problem
from bot.simulator import Simulator
from tests.simulator.engine_helpers import face_png, plain_jpeg

AVATARS = "/v1/videos/doubao-seedance-2-0/private-avatar"


@pytest.fixture
async def client(simulator: Simulator):
    simulator.scenario.asset_delay = 0.1
    client = ToapisClient(simulator.base_url, simulator.scenario.api_key, backoff_base=0.01)
    yield client
    await client.aclose()


async def until_settled(client: ToapisClient, asset_id: str) -> list[AvatarAsset]:
    """Every read of the asset until it is no longer processing."""
    seen = []
    for _ in range(400):
        asset = await client.get_avatar_asset(asset_id)
        seen.append(asset)
        if asset.status is not AssetStatus.PROCESSING:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError("asset never settled")


async def active_assets(client: ToapisClient, name: str, count: int = 3) -> list[str]:
    """A group for `name` with `count` image assets, followed until active."""
    group_id = await client.create_avatar_group(name, description="a test character")
    ids = []
    for number in range(count):
        still = plain_jpeg()
        image = await client.upload_image(still, filename=f"s{number}.jpg", mime="image/jpeg")
        asset = await client.create_avatar_asset(group_id, image.url, name=f"still {number}")
        ids.append(asset.asset_id)
    for asset_id in ids:
        assert (await until_settled(client, asset_id))[-1].status is AssetStatus.ACTIVE
    return ids


async def test_an_uploaded_image_is_public_and_its_url_is_never_in_its_repr(client, simulator):
    content = face_png()
    image = await client.upload_image(content, filename="still.png", mime="image/png")
    assert image.id.startswith("upload_") and image.mime_type == "image/png"
    assert image.size == len(content)
    assert image.url not in repr(image)
    async with httpx.AsyncClient() as anonymous:
        served = await anonymous.get(image.url)
    assert served.status_code == 200 and served.content == content


async def test_an_image_the_service_refuses_says_why(client, simulator):
    simulator.scenario.max_upload_bytes = 100
    with pytest.raises(UploadRejectedError) as refused:
        await client.upload_image(plain_jpeg(), filename="big.jpg", mime="image/jpeg")
    assert refused.value.user_message == (
        "The video service refused the upload: Image too large. Maximum size is 100 bytes"
    )


async def test_a_group_of_three_assets_is_processed_then_active(client, simulator):
    group_id = await client.create_avatar_group("Sky")
    assert group_id.startswith("group_")
    image = await client.upload_image(plain_jpeg(), filename="a.jpg", mime="image/jpeg")
    simulator.scenario.asset_delay = 60
    slow = await client.create_avatar_asset(group_id, image.url)
    assert (await client.get_avatar_asset(slow.asset_id)).status is AssetStatus.PROCESSING
    simulator.scenario.asset_delay = 0.05
    created = [
        await client.create_avatar_asset(group_id, image.url, name=f"still {n}") for n in range(3)
    ]
    assert all(a.status is AssetStatus.PROCESSING and a.group_id == group_id for a in created)
    assert image.url not in repr(created[0])
    for asset in created:
        seen = await until_settled(client, asset.asset_id)
        assert seen[-1].status is AssetStatus.ACTIVE and seen[-1].refusal() is None
        assert seen[-1].source_url == image.url and seen[-1].asset_type == "image"
    sent = [r.body for r in simulator.requests if r.method == "POST" and r.path.startswith(AVATARS)]
    assert sent[0] == {"name": "Sky"}
    assert sent[2] == {
        "group_id": group_id,
        "asset_type": "image",
        "source_url": image.url,
        "name": "still 0",
    }


async def test_a_face_refused_by_the_service_is_told_apart(client, simulator):
    simulator.scenario.refuse_faces = True
    group_id = await client.create_avatar_group("Real person")
    face = await client.upload_image(face_png(), filename="face.png", mime="image/png")
    asset = await client.create_avatar_asset(group_id, face.url)
    final = (await until_settled(client, asset.asset_id))[-1]
    assert final.status is AssetStatus.FAILED and final.face_refused
    assert final.error_code == "face_not_allowed"
    assert "faces are not allowed in private avatars" in final.error_message
    refusal = final.refusal()
    assert isinstance(refusal, FaceRefusedError)
    assert refusal.detail == final.error_message
    assert refusal.user_message == "The video service refuses real people's faces for this engine."


async def test_another_refusal_of_an_asset_carries_the_service_reason(client, simulator):
    simulator.scenario.asset_fail_with = "Asset review failed"
    group_id = await client.create_avatar_group("Sky")
    image = await client.upload_image(plain_jpeg(), filename="a.jpg", mime="image/jpeg")
    asset = await client.create_avatar_asset(group_id, image.url)
    final = (await until_settled(client, asset.asset_id))[-1]
    refusal = final.refusal()
    assert type(refusal) is AssetRefusedError and not final.face_refused
    assert refusal.user_message == "The video service refused the image: Asset review failed"


async def test_an_unknown_asset_is_not_found(client):
    with pytest.raises(TaskNotFoundError):
        await client.get_avatar_asset("asset_nope")


async def test_a_seedance_video_sends_the_characters_assets_and_is_found_by_business_id(
    client, simulator
):
    assets = await active_assets(client, "Sky")
    cast = cast_prompt(Engine.SEEDANCE, "Sky dances in the rain", [Cast("Sky", None, assets)])
    request = cast.request(
        "seedance-2-fast", 6, "21:9", resolution="720p", client_business_id="biz-7f3a"
    )
    assert request_problem(request) is None
    task = await client.create_video(request)
    assert task.status is TaskStatus.QUEUED
    [sent] = [r.body for r in simulator.requests if r.path == "/v1/videos/generations"]
    assert sent["prompt"] == "The character from images 1-3 dances in the rain"
    assert sent["image_with_roles"] == [
        {"url": f"asset://{a}", "role": "reference_image"} for a in assets
    ]
    assert sent["client_business_id"] == "biz-7f3a"
    found = await client.find_video_task("biz-7f3a")
    assert found.id == task.id and found.model == "seedance-2-fast"
    with pytest.raises(TaskNotFoundError):
        await client.find_video_task("biz-never-sent")


async def test_a_seedance_asset_not_active_yet_is_refused_before_a_task(client, simulator):
    simulator.scenario.asset_delay = 30
    group_id = await client.create_avatar_group("Sky")
    image = await client.upload_image(plain_jpeg(), filename="a.jpg", mime="image/jpeg")
    asset = await client.create_avatar_asset(group_id, image.url)
    cast = cast_prompt(Engine.SEEDANCE, "Sky waves", [Cast("Sky", None, [asset.asset_id])])
    with pytest.raises(AssetUnusableError) as refused:
        await client.create_video(cast.request("seedance-2", 5, "16:9"))
    assert "not found or not active" in refused.value.user_message
    assert simulator.tasks == {}


async def test_a_vidu_video_sends_each_character_as_a_subject(client, simulator):
    urls = [
        (await client.upload_image(plain_jpeg(), filename=f"{n}.jpg", mime="image/jpeg")).url
        for n in range(3)
    ]
    cast = cast_prompt(Engine.VIDU, "Zoë waves", [Cast("Zoë", image_urls=urls)])
    task = await client.create_video(cast.request("viduq3", 8, "1:1", audio=False))
    assert task.status is TaskStatus.QUEUED
    [sent] = [r.body for r in simulator.requests if r.path == "/v1/videos/generations"]
    assert sent["prompt"] == "@Zoe waves"
    assert sent["metadata"] == {"subjects": [{"name": "Zoe", "images": urls}]}
    assert sent["audio"] is False and "image_urls" not in sent


async def test_vidu_asking_for_image_urls_is_answered_with_the_first_images(client, simulator):
    simulator.scenario.vidu_needs_image_urls = True
    sky = await client.upload_image(plain_jpeg(), filename="sky.jpg", mime="image/jpeg")
    nova = await client.upload_image(plain_jpeg(), filename="nova.jpg", mime="image/jpeg")
    cast = cast_prompt(
        Engine.VIDU,
        "Sky meets Nova",
        [Cast("Sky", image_urls=[sky.url, nova.url]), Cast("Nova", image_urls=[nova.url])],
    )
    request = cast.request("viduq3", 5, "16:9")
    with pytest.raises(ImageUrlsRequiredError) as asked:
        await client.create_video(request)
    assert "image_urls is required" in asked.value.detail
    assert simulator.tasks == {}
    task = await client.create_video(request.with_first_images())
    assert task.status is TaskStatus.QUEUED
    sent = [r.body for r in simulator.requests if r.path == "/v1/videos/generations"]
    assert sent[-1]["image_urls"] == [sky.url, nova.url]


async def test_each_call_counts_in_its_budget(simulator):
    budgets = AccountBudgets.create(tier_limits("default"), query_share=0.8)
    client = ToapisClient(simulator.base_url, "sim-key", budgets=budgets)
    simulator.scenario.asset_delay = 0
    try:
        image = await client.upload_image(plain_jpeg(), filename="a.jpg", mime="image/jpeg")
        group_id = await client.create_avatar_group("Sky")
        asset = await client.create_avatar_asset(group_id, image.url)
        assert (budgets.submit.granted, budgets.query.granted) == (3, 0)
        await until_settled(client, asset.asset_id)
        reads = budgets.query.granted
        assert reads >= 1 and budgets.submit.granted == 3
        request = VideoRequest(
            model="seedance-2",
            prompt="a walk",
            duration=5,
            client_business_id="biz-budget",
        )
        await client.create_video(request)
        await client.find_video_task("biz-budget")
        assert (budgets.submit.granted, budgets.query.granted) == (4, reads + 1)
    finally:
        await client.aclose()


async def test_uploaded_urls_stay_out_of_logs_and_errors(client, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    image = await client.upload_image(plain_jpeg(), filename="a.jpg", mime="image/jpeg")
    simulator.scenario.submit_status = (
        503,
        {"error": {"message": f"busy reading {image.url}", "type": "server_error"}},
    )
    request = VideoRequest(model="viduq3", prompt="@Sky", duration=5)
    with pytest.raises(RateLimitedError) as busy:
        await client.create_video(request)
    assert image.url not in str(busy.value) and image.url not in busy.value.user_message
    assert "busy reading <url>" in busy.value.detail
    simulator.scenario.submit_status = None
    simulator.scenario.asset_fail_with = f"could not read {image.url}"
    group_id = await client.create_avatar_group("Sky")
    asset = await client.create_avatar_asset(group_id, image.url)
    final = (await until_settled(client, asset.asset_id))[-1]
    assert final.error_message == "could not read <url>"
    assert any("retry" in record.getMessage() for record in caplog.records)
    ours = [r for r in caplog.records if r.name.startswith("bot.providers")]
    assert not [r for r in ours if image.url in r.getMessage()]
