"""The simulator's side of toapis webhooks: one signed final event per task (section 6)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bot.http.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bot.simulator.tasks import COMPLETED, SimTask

log = logging.getLogger(__name__)


@dataclass
class SentEvent:
    """An event as it was sent, so a test can replay it."""

    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None


def event_for(task: SimTask) -> dict[str, Any]:
    """The event body for a task that just ended."""
    answer = task.to_json()
    done = task.status == COMPLETED
    return {
        "id": "evt_" + secrets.token_hex(8),
        "type": "generation.completed" if done else "generation.failed",
        "api_version": "v1",
        "created_at": int(time.time()),
        "data": {
            "task_id": task.id,
            "task_type": task.kind,  # "character", or "video" for a video task
            "model": task.model,
            "status": "SUCCESS" if done else "FAILURE",
            "progress": "100%",
            "result": answer.get("result"),
            "error": answer.get("error"),
            "submitted_at": task.created_at,
            "finished_at": task.completed_at,
        },
    }


def signed(event: dict[str, Any], secret: str, *, timestamp: float | None = None) -> SentEvent:
    """Body and headers of `event`, signed with `secret` (to be sent by `deliver`)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    headers = {
        "Content-Type": "application/json",
        ID_HEADER: event["id"],
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "v1=" + sign(secret, event["id"], stamp, body),
    }
    return SentEvent("", body, headers, None)


async def deliver(client: httpx.AsyncClient, url: str, sent: SentEvent) -> SentEvent:
    """POST one event (no redirects followed, as toapis does); returns it with the status."""
    sent.url = url
    try:
        response = await client.post(
            url, content=sent.body, headers=sent.headers, follow_redirects=False, timeout=10
        )
        sent.status = response.status_code
    except httpx.HTTPError as exc:
        log.info("webhook to %s failed: %s", url, type(exc).__name__)
    return sent
