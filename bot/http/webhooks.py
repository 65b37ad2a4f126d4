"""toapis webhooks (contract section 6): verify, parse, and turn an event into a `Task`.

Signature: HMAC-SHA256 with the secret over `event_id + "." + timestamp + "." + raw body`,
sent as `X-ToAPIs-Webhook-Signature: v1=<hex>[,v1=<hex>]`. Every listed `v1` value is
tried against every configured secret (two during rotation), in constant time. A timestamp
more than five minutes off is refused, so a captured event cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.providers.base import Task

ID_HEADER = "X-ToAPIs-Webhook-Id"
TIMESTAMP_HEADER = "X-ToAPIs-Webhook-Timestamp"
SIGNATURE_HEADER = "X-ToAPIs-Webhook-Signature"
TOLERANCE = 300.0  # seconds a timestamp may be off
MAX_BODY = 1024 * 1024
_STATUS = {"SUCCESS": "completed", "FAILURE": "failed"}


class WebhookRefused(Exception):
    """Answer with `status` and do nothing (401: not signed by us; 400: stale, malformed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified event."""

    id: str
    type: str
    task: Task | None  # None for events without a task (endpoint.test)


def sign(secret: str, event_id: str, timestamp: str, body: bytes) -> str:
    """The `v1` signature of an event (what toapis sends; used by the simulator too)."""
    message = f"{event_id}.{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, *, now: float
) -> WebhookEvent:
    """The event, if signed with one of `secrets` and fresh; else `WebhookRefused`."""
    event_id = headers.get(ID_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    offered = [
        part.strip()[3:]
        for part in headers.get(SIGNATURE_HEADER, "").split(",")
        if part.strip().startswith("v1=")
    ]
    if not event_id or not timestamp or not offered or len(event_id) > 200:
        raise WebhookRefused(401, "missing signature headers")
    good = False
    for secret in secrets:
        expected = sign(secret, event_id, timestamp, body)
        for candidate in offered:
            good |= hmac.compare_digest(expected, candidate)
    if not good:
        raise WebhookRefused(401, "bad signature")
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRefused(400, "malformed timestamp") from None
    if not math.isfinite(sent):  # "nan" is never "too far" from now: refuse it here
        raise WebhookRefused(400, "malformed timestamp")
    if abs(now - sent) > TOLERANCE:
        raise WebhookRefused(400, "timestamp too far from now")
    return WebhookEvent(event_id, *_parse(body, event_id))


def _parse(body: bytes, event_id: str) -> tuple[str, Task | None]:
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise WebhookRefused(400, "body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRefused(400, "body is not an object")
    kind = str(data.get("type") or "")
    if str(data.get("id") or event_id) != event_id:
        raise WebhookRefused(400, "event id does not match its header")
    payload = data.get("data")
    if not kind.startswith("generation.") or not isinstance(payload, dict):
        return kind, None
    status = _STATUS.get(str(payload.get("status") or "").upper())
    if status is None:
        status = "completed" if kind == "generation.completed" else "failed"
    try:
        task = Task.model_validate(
            {
                "id": payload.get("task_id"),
                "status": status,
                "progress": 100,
                "model": payload.get("model"),
                "result": payload.get("result"),
                "error": payload.get("error"),
            }
        )
    except ValidationError:
        raise WebhookRefused(400, "unreadable task in the event") from None
    if not task.id:
        raise WebhookRefused(400, "event without a task id")
    return kind, task
