"""Video generation (toapis.md section 7): the client against the simulator, over sockets."""

from __future__ import annotations

import pytest

from bot.media.assets import fetch_asset
from bot.providers.base import CharacterRequest, InvalidRequestError, Task, TaskStatus
from bot.providers.toapis import ToapisClient
from bot.providers.video import (
    VideoRequest,
    default_duration,
    duration_problem,
    with_mentions,
)


@pytest.fixture
async def client(simulator):
    client = ToapisClient(simulator.base_url, simulator.scenario.api_key, backoff_base=0.01)
    yield client
    await client.aclose()


async def until_final(client: ToapisClient, task_id: str, *, video: bool) -> Task:
    import asyncio

    for _ in range(400):
        task = await (client.get_video_task(task_id) if video else client.get_task(task_id))
        if task.status.is_final:
            return task
        await asyncio.sleep(0.02)
    raise AssertionError("task did not finish")


async def make_character(client: ToapisClient, url: str) -> str:
    created = await client.create_character(CharacterRequest(start=1, end=3, url=url))
    done = await until_final(client, created.id, video=False)
    return done.characters[0].username


async def test_a_video_with_a_character_is_generated_and_served(
    client, simulator, media_server, short_video
):
    username = await make_character(client, f"{media_server}/{short_video.name}")
    prompt = with_mentions("walks on the beach at dusk", [username])
    assert prompt == f"@{username} walks on the beach at dusk"

    task = await client.create_video(VideoRequest(model="sora-2", prompt=prompt, duration=15))
    done = await until_final(client, task.id, video=True)

    assert done.status is TaskStatus.COMPLETED and done.characters == []
    [video] = done.videos
    body = await fetch_asset(video.url, max_bytes=1 << 20, allow_private=True)
    assert body.startswith(b"\x00\x00\x00\x18ftyp")
    [sent] = [r.body for r in simulator.requests if r.body and "prompt" in r.body]
    assert sent == {"model": "sora-2", "prompt": prompt, "duration": 15, "aspect_ratio": "16:9"}
    # Polled on the general task page only.
    polled = {r.path.rsplit("/", 1)[0] for r in simulator.requests if task.id in r.path}
    assert polled == {"/v1/videos/generations"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"model": "sora-2", "prompt": "x", "duration": 25},
            "duration for sora-2 must be 10 or 15",
        ),
        ({"model": "sora-2-pro", "prompt": "x", "duration": 10}, "must be 15 or 25"),
        ({"model": "sora-2", "prompt": "@nobody.here dances", "duration": 10}, "@nobody.here"),
        ({"model": "sora-2", "prompt": "  ", "duration": 10}, "prompt is required"),
    ],
)
async def test_the_simulator_refuses_what_toapis_refuses(client, body, reason):
    with pytest.raises(InvalidRequestError) as refused:
        await client.create_video(VideoRequest(**body))
    assert reason in refused.value.user_message
    assert refused.value.user_message.startswith("The video service refused this request")


def test_duration_rules_follow_the_reference():
    assert default_duration("sora-2") == 10 and default_duration("sora-2-pro") == 15
    assert duration_problem("sora-2", 15) is None
    assert duration_problem("sora-2-pro", 25) is None
    assert duration_problem("sora-2-vip", 10) is None  # assumed to follow sora-2
    assert str(duration_problem("sora-2", 25)) == "sora-2 makes videos of 10 s or 15 s, not 25 s."


def test_mentions_are_not_written_twice():
    assert with_mentions("@a.b meets @c", ["a.b", "c", "d"]) == "@d @a.b meets @c"
