"""The toapis simulator, exercised with raw HTTP requests."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers.base import Task, UploadedVideo
from bot.simulator import Simulator
from tests.simulator.helpers import (
    SUBMIT,
    TASK_ID,
    create_body,
    error_body,
    submit,
    wait_for,
)

# --- authentication and validation ------------------------------------------------------


async def test_auth_is_required(simulator: Simulator) -> None:
    expected = error_body(
        401, "Authentication failed, please check your API key", "authentication_error"
    )
    async with httpx.AsyncClient(base_url=simulator.base_url) as anonymous:
        calls = [
            anonymous.post(SUBMIT, json=create_body(url="http://example.com/a.mp4")),
            anonymous.post(
                SUBMIT,
                json=create_body(url="http://example.com/a.mp4"),
                headers={"Authorization": "Bearer wrong"},
            ),
            anonymous.get("/v1/characters_tasks/task_X"),
            anonymous.get("/v1/videos/generations/task_X"),
            anonymous.post("/v1/uploads/videos", files={"file": ("a.mp4", b"x", "video/mp4")}),
        ]
        for call in calls:
            response = await call
            assert response.status_code == 401
            assert response.json() == expected
    assert simulator.submits == 0
    assert not simulator.tasks
    assert [(r.method, r.path) for r in simulator.requests][:2] == [("POST", SUBMIT)] * 2
    assert len(simulator.requests) == 5


BAD_MODEL = "Invalid request: model must be one of sora-2, sora-2-pro, sora-2-vip"
BAD_FORMAT = 'Invalid request: timestamps must be a string "start,end" in seconds'
BAD_SPAN = "Invalid request: timestamps range must be between 1-3 seconds"
ONE_SOURCE = "Invalid request: exactly one of url or from_task is required"
URL = "http://127.0.0.1:9/clip.mp4"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (create_body(model="sora-3", url=URL), BAD_MODEL),
        (create_body(model=None, url=URL), BAD_MODEL),
        (create_body(timestamps="1-3", url=URL), BAD_FORMAT),
        (create_body(timestamps="a,b", url=URL), BAD_FORMAT),
        (create_body(timestamps="1,2,3", url=URL), BAD_FORMAT),
        (create_body(timestamps="-1,1", url=URL), BAD_FORMAT),
        (create_body(timestamps=13, url=URL), BAD_FORMAT),
        (create_body(timestamps=None, url=URL), BAD_FORMAT),
        (create_body(timestamps="1,1.5", url=URL), BAD_SPAN),
        (create_body(timestamps="0,3.5", url=URL), BAD_SPAN),
        (create_body(timestamps="3,1", url=URL), BAD_SPAN),
        (create_body(url=URL, from_task="task_ABC"), ONE_SOURCE),
        (create_body(), ONE_SOURCE),
        (create_body(url=""), ONE_SOURCE),
        (create_body(url=5), ONE_SOURCE),
        (
            create_body(url="ftp://example.com/a.mp4"),
            "Invalid request: url must be an http or https URL",
        ),
        (
            create_body(from_task="task_UNKNOWN"),
            "Invalid request: from_task task_UNKNOWN not found",
        ),
        (
            {"model": "sora-2", "prompt": "@unknown.cat jumps", "duration": 10},
            "Invalid request: character @unknown.cat not found",
        ),
        (
            {"model": "sora-2-pro", "prompt": "a cat", "duration": 10},
            "Invalid request: duration for sora-2-pro must be 15 or 25",
        ),
        (["not", "an", "object"], "Invalid request: body must be a JSON object"),
    ],
)
async def test_validation_errors(
    simulator: Simulator, client: httpx.AsyncClient, body: Any, message: str
) -> None:
    response = await client.post(SUBMIT, json=body)
    assert response.status_code == 400
    assert response.json() == error_body(400, message, "invalid_request_error")
    assert simulator.submits == 0
    assert not simulator.tasks


async def test_non_json_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(SUBMIT, content=b"{not json", headers={"Content-Type": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid request: body must be a JSON object"


@pytest.mark.parametrize("timestamps", ["0,1", "1.5,4.5", "0.25,3.25", "2, 3.1", ".5,2"])
@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro", "sora-2-vip"])
async def test_valid_requests_are_accepted(
    simulator: Simulator, client: httpx.AsyncClient, timestamps: str, model: str
) -> None:
    simulator.scenario.check_media = False
    before = simulator.submits
    body = await submit(client, model=model, timestamps=timestamps, url=URL)
    assert TASK_ID.match(body["id"])
    assert body["model"] == model
    assert {k: body[k] for k in ("object", "status", "progress", "metadata")} == {
        "object": "generation.task",
        "status": "queued",
        "progress": 0,
        "metadata": {},
    }
    assert isinstance(body["created_at"], int)
    assert Task.model_validate(body).status == "queued"
    assert simulator.submits == before + 1


# --- task life --------------------------------------------------------------------------


async def test_happy_path(
    simulator: Simulator, client: httpx.AsyncClient, media_server: str, short_video: Path
) -> None:
    created = await submit(client, url=f"{media_server}/{short_video.name}")
    seen: list[tuple[str, int]] = []
    done = await wait_for(client, created["id"], {"completed", "failed"}, seen=seen)
    assert done["status"] == "completed", done
    progress = [value for _, value in seen]
    assert progress == sorted(progress)
    history = simulator.tasks[created["id"]].history
    assert history == [
        ("queued", 0),
        ("in_progress", 0),
        ("in_progress", 10),
        ("in_progress", 35),
        ("in_progress", 60),
        ("in_progress", 85),
        ("completed", 100),
    ]
    task = Task.model_validate(done)
    assert task.progress == 100
    assert done["completed_at"] >= done["created_at"]
    assert done["expires_at"] > done["completed_at"]
    assert done["result"]["type"] == "character"
    [character] = task.characters
    assert re.fullmatch(r"ch_[0-9a-f]{32}", character.id)
    assert re.fullmatch(r"[a-z]{8}\.[a-z_]{1,10}", character.username)
    assert character.display_name
    assert character.profile_picture_url is not None
    async with httpx.AsyncClient() as anonymous:  # the picture needs no key
        picture = await anonymous.get(character.profile_picture_url)
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:2] == b"\xff\xd8"
    assert picture.content[-2:] == b"\xff\xd9"
    general = await client.get(f"/v1/videos/generations/{created['id']}")
    assert general.json() == done


async def test_several_characters(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.update(characters=3, check_media=False)
    created = await submit(client, url=URL)
    done = await wait_for(client, created["id"], {"completed"})
    characters = Task.model_validate(done).characters
    assert len(characters) == 3
    assert len({c.id for c in characters}) == 3


def test_spread_durations_vary_within_bounds_and_repeat_for_a_seed(
    simulator: Simulator,
) -> None:
    simulator.scenario.update(queued_for=50.0, step_interval=10.0)
    assert {simulator.plan_task().queued_for for _ in range(5)} == {50.0}  # off by default
    simulator.scenario.update(duration_spread=0.2, duration_seed=3)
    first = [(p.queued_for, p.step_interval) for p in (simulator.plan_task() for _ in range(40))]
    assert all(40.0 <= queued <= 60.0 and abs(queued - 5 * step) < 1e-9 for queued, step in first)
    assert len(set(first)) == 40
    simulator.reset_limits()  # a new run of the same seed: the same durations again
    again = [(p.queued_for, p.step_interval) for p in (simulator.plan_task() for _ in range(40))]
    assert again == first
    simulator.scenario.update(duration_seed=4)
    assert [simulator.plan_task().queued_for for _ in range(40)] != [q for q, _ in first]


async def test_fail_with(simulator: Simulator, client: httpx.AsyncClient) -> None:
    message = "Generation failed: Content violates the content policy"
    simulator.scenario.update(fail_with=["generation_failed", message], check_media=False)
    created = await submit(client, url=URL)
    simulator.scenario.fail_with = None  # the plan is fixed when the task is created
    done = await wait_for(client, created["id"], {"completed", "failed"})
    assert done["status"] == "failed"
    assert done["error"] == {"code": "generation_failed", "message": message}
    assert "result" not in done
    assert Task.model_validate(done).error is not None


@pytest.mark.parametrize(
    ("fixture", "timestamps", "code"),
    [
        ("silent_video", "1,3", "no_audio"),
        ("non_video", "1,3", "invalid_video"),
        ("audio_only", "0,2", "invalid_video"),
        ("short_video", "4,6", "invalid_timestamps"),
        ("short_video", "3.5,5.5", "invalid_timestamps"),
        (None, "1,3", "download_failed"),
    ],
)
async def test_media_checks(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    media_server: str,
    fixture: str | None,
    timestamps: str,
    code: str,
) -> None:
    name = request.getfixturevalue(fixture).name if fixture else "missing.mp4"
    created = await submit(client, timestamps=timestamps, url=f"{media_server}/{name}")
    done = await wait_for(client, created["id"], {"completed", "failed"})
    assert done["status"] == "failed", done
    assert done["error"]["code"] == code
    assert done["error"]["message"]


async def test_range_ending_at_the_end_is_accepted(
    client: httpx.AsyncClient, media_server: str, short_video: Path
) -> None:
    created = await submit(client, timestamps="2,5", url=f"{media_server}/{short_video.name}")
    done = await wait_for(client, created["id"], {"completed", "failed"})
    assert done["status"] == "completed", done


async def test_from_task(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.check_media = False
    first = await submit(client, url=URL)
    simulator.scenario.hang = True
    second = await submit(client, url=URL)
    await wait_for(client, second["id"], lambda body: body["progress"] == 85)
    refused = await client.post(SUBMIT, json=create_body(from_task=second["id"]))
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == (
        f"Invalid request: from_task {second['id']} has not completed"
    )
    simulator.scenario.hang = False
    await wait_for(client, first["id"], {"completed"})
    derived = await submit(client, from_task=first["id"], timestamps="0,2")
    assert Task.model_validate(await wait_for(client, derived["id"], {"completed"})).characters
    assert simulator.tasks[derived["id"]].from_task == first["id"]


async def test_unknown_task_is_404(client: httpx.AsyncClient) -> None:
    expected = error_body(404, "Task not found", "not_found_error")
    for path in ("/v1/characters_tasks/task_NOPE", "/v1/videos/generations/task_NOPE"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == expected


async def test_characters_tasks_404_fallback(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(characters_tasks_404=True, check_media=False)
    created = await submit(client, url=URL)
    missing = await client.get(f"/v1/characters_tasks/{created['id']}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 404
    general = await client.get(f"/v1/videos/generations/{created['id']}")
    assert general.status_code == 200
    assert Task.model_validate(general.json()).id == created["id"]


# --- uploads ----------------------------------------------------------------------------


async def test_upload_and_fetch_back_with_range(
    simulator: Simulator, client: httpx.AsyncClient, short_video: Path
) -> None:
    content = await asyncio.to_thread(short_video.read_bytes)
    response = await client.post(
        "/v1/uploads/videos",
        files={"file": ("clip.mp4", content, "video/mp4")},
        data={"purpose": "generation"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"] == ""
    uploaded = UploadedVideo.model_validate(body["data"])
    assert uploaded.id.startswith("upload_")
    assert uploaded.mime_type == "video/mp4"
    assert uploaded.size == len(content)
    assert uploaded.url.startswith(f"{simulator.base_url}/uploads/videos/")
    assert uploaded.url.endswith(".mp4")
    async with httpx.AsyncClient() as anonymous:
        part = await anonymous.get(uploaded.url, headers={"Range": "bytes=100-199"})
        whole = await anonymous.get(uploaded.url)
    assert part.status_code == 206
    assert part.content == content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(content)}"
    assert whole.content == content
    # The hosted URL is usable as a task's `url`: the simulator probes its own file.
    created = await submit(client, url=uploaded.url)
    done = await wait_for(client, created["id"], {"completed", "failed"})
    assert done["status"] == "completed", done


@pytest.mark.parametrize(
    ("name", "mime", "ext"),
    [("clip.webm", "application/octet-stream", ".webm"), ("clip", "video/quicktime", ".mov")],
)
async def test_upload_type_by_name_or_content_type(
    client: httpx.AsyncClient, name: str, mime: str, ext: str
) -> None:
    response = await client.post("/v1/uploads/videos", files={"file": (name, b"abc", mime)})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["url"].endswith(ext)


async def test_upload_refusals(simulator: Simulator, client: httpx.AsyncClient) -> None:
    unsupported = await client.post(
        "/v1/uploads/videos", files={"file": ("notes.txt", b"hello", "text/plain")}
    )
    assert unsupported.status_code == 400
    assert unsupported.json() == {"success": False, "message": "Unsupported file type"}
    simulator.scenario.max_upload_bytes = 1024 * 1024
    too_large = await client.post(
        "/v1/uploads/videos",
        files={"file": ("big.mp4", b"\0" * (1024 * 1024 + 1), "video/mp4")},
    )
    assert too_large.status_code == 400
    assert too_large.json() == {"success": False, "message": "Video too large. Maximum size is 1MB"}
    exact = await client.post(
        "/v1/uploads/videos", files={"file": ("ok.mp4", b"\0" * (1024 * 1024), "video/mp4")}
    )
    assert exact.status_code == 200
    no_file = await client.post("/v1/uploads/videos", files={"other": ("a.mp4", b"x")})
    assert no_file.status_code == 400
    assert no_file.json()["success"] is False


async def test_stop_removes_uploads(short_video: Path) -> None:
    async with (
        Simulator() as sim,
        httpx.AsyncClient(headers={"Authorization": "Bearer sim-key"}) as c,
    ):
        response = await c.post(
            f"{sim.base_url}/v1/uploads/videos", files={"file": ("a.mp4", b"abc", "video/mp4")}
        )
        url = response.json()["data"]["url"]
        assert (await c.get(url)).content == b"abc"
        stored = list(sim._upload_dir.iterdir()) if sim._upload_dir else []
        assert len(stored) == 1
    assert not stored[0].exists()
