"""HTTP plumbing of the fake Discord: recorded calls, JSON answers, fault injection."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web

API_PREFIX = "/api/v10"


class RecordedCall(NamedTuple):
    """One request as the fake received it.

    `path` is percent-decoded and relative to `/api/v10` (`/channels/1/messages`); other
    paths (`/media/x`) are kept whole. `json` is the JSON body or the multipart
    `payload_json` part; `files` holds `(part name, filename, bytes)` of `files[n]` parts.
    """

    method: str
    path: str
    query: dict[str, str]
    json: dict[str, Any] | list[Any] | None
    files: list[tuple[str, str, bytes]]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer whose Content-Type is exactly `application/json` (no charset).

    discord.py compares the header literally; aiohttp's `json_response` would add a charset
    and discord.py would then hand the body over as a `str`.
    """
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        content_type=None,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def error(status: int, code: int, message: str) -> web.Response:
    """A Discord error answer (`{"code", "message"}`)."""
    return json_response({"code": code, "message": message}, status=status)


def unknown_message() -> web.Response:
    """`404 Unknown Message` (10008)."""
    return error(404, 10008, "Unknown Message")


def unknown_channel() -> web.Response:
    """`404 Unknown Channel` (10003)."""
    return error(404, 10003, "Unknown Channel")


def missing_permissions() -> web.Response:
    """`403 Missing Permissions` (50013)."""
    return error(403, 50013, "Missing Permissions")


def invalid_webhook_token() -> web.Response:
    """`401 Invalid Webhook Token` (50027): an interaction token older than 15 minutes."""
    return error(401, 50027, "Invalid Webhook Token")


def unknown_interaction() -> web.Response:
    """`404 Unknown interaction` (10062): the 3 s to answer have passed."""
    return error(404, 10062, "Unknown interaction")


def no_content() -> web.Response:
    """A bare 204."""
    return web.Response(status=204)


def api_path(raw_path: str) -> str:
    """The path relative to `/api/v10` when under it, else unchanged."""
    if raw_path.startswith(API_PREFIX + "/"):
        return raw_path[len(API_PREFIX) :]
    return raw_path


async def parse_request(request: web.Request) -> RecordedCall:
    """Read a request's body (JSON or multipart) into a `RecordedCall`."""
    body: dict[str, Any] | list[Any] | None = None
    files: list[tuple[str, str, bytes]] = []
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            elif part.name is not None:
                files.append((part.name, part.filename or part.name, bytes(data)))
    elif request.body_exists:
        raw = await request.read()
        if raw:
            body = json.loads(raw)
    return RecordedCall(request.method, api_path(request.path), dict(request.query), body, files)


CALL: web.RequestKey[RecordedCall] = web.RequestKey("call", RecordedCall)
"""Where the middleware puts the parsed `RecordedCall` of a request."""


@dataclass
class FaultRule:
    """Answer the next `times` calls matching `method` and `pattern` with a canned reply."""

    method: str
    pattern: str
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1

    def matches(self, call: RecordedCall) -> bool:
        """Whether the rule applies to `call`."""
        return matches(call, self.method, self.pattern)


def matches(call: RecordedCall, method: str, path_regex: str) -> bool:
    """Whether `call` has `method` (or `*`) and its path fully matches `path_regex`."""
    method_ok = method == "*" or method.upper() == call.method
    return method_ok and re.fullmatch(path_regex, call.path) is not None


@dataclass
class RateRule:
    """Answer each call matching `method` and `pattern` with `answer()`, at `rate` (0-1)."""

    method: str
    pattern: str
    rate: float
    answer: Callable[[], web.Response]
    name: str

    def matches(self, call: RecordedCall) -> bool:
        """Whether the rule applies to `call`."""
        return matches(call, self.method, self.pattern)


class Faults:
    """Scripted failures, consulted before any route runs: counted rules first, then
    rules at a rate (rolled with `random`; seed it for a repeatable run)."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.rates: list[RateRule] = []
        self.random = random.Random()  # faults, not secrets
        self.injected: Counter[str] = Counter()

    def add_rate(
        self,
        method: str,
        path_regex: str,
        rate: float,
        answer: Callable[[], web.Response],
        name: str,
    ) -> RateRule:
        """Answer a share `rate` of the matching calls with `answer()` (counted as `name`)."""
        if not 0 <= rate <= 1:
            raise ValueError("a rate is a probability, 0 to 1")
        re.compile(path_regex)
        rule = RateRule(method, path_regex, rate, answer, name)
        self.rates.append(rule)
        return rule

    def add(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> FaultRule:
        """Queue a rule; rules are used in the order they were added."""
        re.compile(path_regex)  # fail now, not at the first request, on a bad pattern
        rule = FaultRule(method, path_regex, status, body, dict(headers or {}), times)
        self.rules.append(rule)
        return rule

    def take(self, call: RecordedCall) -> web.Response | None:
        """The canned answer for `call`, using up one of its rule's `times`, or None."""
        for rule in self.rules:
            if rule.times > 0 and rule.matches(call):
                rule.times -= 1
                if rule.times == 0:
                    self.rules.remove(rule)
                if rule.status == 204 or rule.body is None:
                    return web.Response(status=rule.status, headers=rule.headers)
                if isinstance(rule.body, str):
                    return web.Response(text=rule.body, status=rule.status, headers=rule.headers)
                if isinstance(rule.body, bytes):
                    return web.Response(body=rule.body, status=rule.status, headers=rule.headers)
                return json_response(rule.body, rule.status, rule.headers)
        for rated in self.rates:
            if rated.matches(call) and self.random.random() < rated.rate:
                self.injected[rated.name] += 1
                return rated.answer()
        return None


def rate_limit_headers(retry_after: float, bucket: str = "fakebucket") -> dict[str, str]:
    """Headers of a real Discord 429 (the `Via` header tells discord.py it is not Cloudflare)."""
    return {
        "Via": "1.1 google",
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "user",
    }
