"""Injected faults, the scenario object, the control API and the command line."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import httpx
import pytest

from bot.simulator import Scenario, Simulator
from tests.simulator.helpers import SUBMIT, create_body, error_body, submit, wait_for

URL = "http://127.0.0.1:9/clip.mp4"
RATE_LIMITED = error_body("rate_limit_exceeded", "Async task request rate exceeded", None)
SERVER_ERROR = error_body(500, "Internal server error", "server_error")


@pytest.fixture(autouse=True)
def _no_media_checks(simulator: Simulator) -> None:
    simulator.scenario.check_media = False


async def test_rate_limited_submit_then_success(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.update(rate_limit_submits=1, retry_after=2)
    limited = await client.post(SUBMIT, json=create_body(url=URL))
    assert limited.status_code == 429
    assert limited.json() == RATE_LIMITED
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["X-RateLimit-Category"] == "async_submit"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Limit"]) > 0
    assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert simulator.submits == 0
    assert simulator.scenario.rate_limit_submits == 0
    await submit(client, url=URL)
    assert simulator.submits == 1


async def test_rate_limited_query(simulator: Simulator, client: httpx.AsyncClient) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.rate_limit_queries = 2
    for path in ("/v1/characters_tasks/", "/v1/videos/generations/"):
        limited = await client.get(path + created["id"])
        assert limited.status_code == 429
        assert limited.json() == RATE_LIMITED
        assert limited.headers["X-RateLimit-Category"] == "async_query"
        assert limited.headers["Retry-After"] == "1"
    assert (await client.get("/v1/characters_tasks/" + created["id"])).status_code == 200


async def test_unavailable_only_hits_submits(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    created = await submit(client, url=URL)
    simulator.scenario.update(unavailable=1, retry_after=0.5)
    assert (await client.get("/v1/characters_tasks/" + created["id"])).status_code == 200
    down = await client.post(SUBMIT, json=create_body(url=URL))
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "rate_limit_unavailable"
    assert down.headers["Retry-After"] == "0.5"
    await submit(client, url=URL)


async def test_server_errors_hit_every_api_kind(
    simulator: Simulator, client: httpx.AsyncClient
) -> None:
    simulator.scenario.server_errors = 3
    answers = [
        await client.post(SUBMIT, json=create_body(url=URL)),
        await client.get("/v1/characters_tasks/task_X"),
        await client.post("/v1/uploads/videos", files={"file": ("a.mp4", b"x", "video/mp4")}),
    ]
    for answer in answers:
        assert answer.status_code == 500
        assert answer.json() == SERVER_ERROR
    assert simulator.submits == 0
    await submit(client, url=URL)


async def test_malformed_answer(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.malformed = 1
    broken = await client.post(SUBMIT, json=create_body(url=URL))
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    assert simulator.submits == 0
    await submit(client, url=URL)


async def test_fault_order(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.update(server_errors=1, malformed=1, unavailable=1, rate_limit_submits=1)
    statuses = []
    for _ in range(5):
        response = await client.post(SUBMIT, json=create_body(model="bad", url=URL))
        statuses.append(response.status_code)
    assert statuses == [500, 200, 503, 429, 400]


async def test_faults_come_after_auth(simulator: Simulator) -> None:
    simulator.scenario.server_errors = 1
    async with httpx.AsyncClient(base_url=simulator.base_url) as anonymous:
        assert (await anonymous.post(SUBMIT, json={})).status_code == 401
    assert simulator.scenario.server_errors == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, error_body(402, "Insufficient account balance, please top up", "payment_required")),
        (422, error_body(422, "Content policy violation", "invalid_request_error")),
    ],
)
async def test_forced_submit_status(
    simulator: Simulator, client: httpx.AsyncClient, status: int, body: dict[str, Any]
) -> None:
    simulator.scenario.submit_status = (status, body)
    response = await client.post(SUBMIT, json=create_body(url=URL))
    assert response.status_code == status
    assert response.json() == body
    assert simulator.submits == 0
    assert not simulator.tasks


async def test_latency(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.latency = 0.2
    started = time.monotonic()
    await client.get("/v1/characters_tasks/task_X")
    assert time.monotonic() - started >= 0.2


# --- the scenario object ----------------------------------------------------------------


def test_scenario_from_dict_and_update() -> None:
    scenario = Scenario.from_dict(
        {"fail_with": ["boom", "it broke"], "submit_status": [402, {"x": 1}], "characters": 2}
    )
    assert scenario.fail_with == ("boom", "it broke")
    assert scenario.submit_status == (402, {"x": 1})
    assert Scenario.from_dict(scenario.to_dict()) == scenario
    scenario.update(fail_with="code:with: colons", retry_after=3)
    assert scenario.fail_with == ("code", "with: colons")
    assert scenario.retry_after == 3.0
    for bad in (
        {"nope": 1},
        {"latency": -1},
        {"characters": "2"},
        {"hang": 1},
        {"progress_steps": [10, 101]},
        {"fail_with": ["only one"]},
        {"submit_status": [99, {}]},
    ):
        with pytest.raises(ValueError):
            scenario.update(**bad)
    assert scenario.characters == 2  # a refused update changes nothing


def test_scenario_counters() -> None:
    scenario = Scenario(server_errors=2)
    assert [scenario.consume("server_errors") for _ in range(3)] == [True, True, False]
    assert scenario.server_errors == 0
    with pytest.raises(ValueError):
        scenario.consume("latency")


# --- control API ------------------------------------------------------------------------


async def test_control_scenario(simulator: Simulator) -> None:
    async with httpx.AsyncClient(base_url=simulator.base_url) as control:
        assert (await control.get("/_sim/scenario")).json() == simulator.scenario.to_dict()
        changed = await control.post("/_sim/scenario", json={"fail_with": ["x", "y"]})
        assert changed.status_code == 200
        assert changed.json()["fail_with"] == ["x", "y"]
        assert simulator.scenario.fail_with == ("x", "y")
        refused = await control.post("/_sim/scenario", json={"no_such_field": True})
        assert refused.status_code == 400
        assert "no_such_field" in refused.json()["error"]
        assert (await control.post("/_sim/scenario", json=[1])).status_code == 400


async def test_control_tasks_and_hang(simulator: Simulator, client: httpx.AsyncClient) -> None:
    simulator.scenario.hang = True
    first, second, third = [await submit(client, url=URL) for _ in range(3)]
    for task in (first, second, third):
        await wait_for(client, task["id"], lambda body: body["progress"] == 85)
    async with httpx.AsyncClient(base_url=simulator.base_url) as control:
        done = await control.post(f"/_sim/tasks/{first['id']}/complete", json={"characters": 2})
        assert done.status_code == 200
        assert done.json()["status"] == "completed"
        assert len(done.json()["result"]["data"]["characters"]) == 2
        again = await control.post(f"/_sim/tasks/{first['id']}/complete")
        assert again.status_code == 409
        failed = await control.post(
            f"/_sim/tasks/{second['id']}/fail", json={"code": "x_code", "message": "x message"}
        )
        assert failed.json()["error"] == {"code": "x_code", "message": "x message"}
        assert (await control.post("/_sim/tasks/task_NOPE/fail")).status_code == 404
        listed = (await control.get("/_sim/tasks")).json()
        assert set(listed) == {first["id"], second["id"], third["id"]}
        await control.post("/_sim/scenario", json={"hang": False})
    await wait_for(client, third["id"], {"completed"})
    assert (await client.get(f"/v1/characters_tasks/{first['id']}")).json()["status"] == (
        "completed"
    )


async def test_control_requests(simulator: Simulator, client: httpx.AsyncClient) -> None:
    body = create_body(url=URL)
    await client.post(SUBMIT, json=body)
    await client.get("/v1/videos/generations/task_X?verbose=1")
    escaped = await client.get("/v1/characters_tasks/..%2Fuploads")
    assert escaped.status_code == 404
    async with httpx.AsyncClient(base_url=simulator.base_url) as control:
        recorded = (await control.get("/_sim/requests")).json()
        assert recorded == [
            {"method": "POST", "path": SUBMIT, "body": body},
            {"method": "GET", "path": "/v1/videos/generations/task_X", "body": None},
            {"method": "GET", "path": "/v1/characters_tasks/..%2Fuploads", "body": None},
        ]
        assert (await control.delete("/_sim/requests")).json() == []
    assert simulator.requests == []


# --- command line -----------------------------------------------------------------------


async def test_command_line() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.simulator",
        "--port",
        "0",
        "--api-key",
        "cli-key",
        "--log-level",
        "WARNING",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("toapis simulator listening on http://127.0.0.1:")
        assert line.rstrip().endswith("(API key: cli-key)")
        base_url = line.split()[4]
        async with httpx.AsyncClient(base_url=base_url) as c:
            answer = await c.get(
                "/v1/characters_tasks/task_X", headers={"Authorization": "Bearer cli-key"}
            )
        assert answer.status_code == 404
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
