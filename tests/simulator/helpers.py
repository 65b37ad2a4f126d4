"""Raw-HTTP helpers for the simulator tests."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from bot.providers.base import Task

AUTH = {"Authorization": "Bearer sim-key"}
SUBMIT = "/v1/videos/generations"
TASK_ID = re.compile(r"^task_[A-Z0-9]{26}$")


def create_body(**fields: Any) -> dict[str, Any]:
    """A create-character body; a field given as None is left out."""
    body: dict[str, Any] = {"model": "sora-2", "timestamps": "1,3"}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


async def submit(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Create a task and return the first answer, which must be a 200."""
    response = await client.post(SUBMIT, json=create_body(**fields))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for(
    client: httpx.AsyncClient,
    task_id: str,
    accept: Any,
    *,
    seen: list[tuple[str, int]] | None = None,
    within: float = 15.0,
) -> dict[str, Any]:
    """Poll the task until `accept(body)` (or its status is in `accept`), with a deadline."""
    check = accept if callable(accept) else (lambda body: body["status"] in accept)
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(f"/v1/characters_tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        Task.model_validate(body)
        if seen is not None:
            seen.append((body["status"], body["progress"]))
        if check(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"task stuck: {body}"
        await asyncio.sleep(0.01)


def error_body(code: Any, message: str, kind: str | None) -> dict[str, Any]:
    """The `{"error": {...}}` body of the contract."""
    error: dict[str, Any] = {"code": code, "message": message}
    if kind:
        error["type"] = kind
    return {"error": error}
