"""Reading toapis' answers: the body of a success, or which provider error it means.

Also the rate-limit headers: `Retry-After` (seconds or an HTTP date, capped at 15
minutes) and `X-RateLimit-*`, which slow the account's budget as a whole.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from bot.net.rate_budget import Budget
from bot.providers.base import (
    AuthenticationError,
    ContentPolicyError,
    InvalidRequestError,
    PaymentRequiredError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    TaskNotFoundError,
    UploadRejectedError,
    WebhookNotConfiguredError,
)

log = logging.getLogger(__name__)

RETRY_AFTER_CAP = 15 * 60.0  # the longest Retry-After honoured; longer ones are capped


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read whole: its status, headers (looked up case-insensitively by
    the transport's mapping) and body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return json.loads(self.body)


def interpret(response: Answer, *, idempotent: bool) -> Any:
    """The body of a 2xx answer, or the provider error that the answer means."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if body is None:
            if not idempotent:
                raise SubmissionUncertainError("unreadable answer to a create request")
            raise ServiceUnavailableError("unreadable answer (not JSON)", status=status)
        return body
    message = error_message(body)
    if status >= 500 and status != 503 and not idempotent:
        # The request reached a server that failed while handling it (or a proxy in
        # front of it gave up): the task may exist. Sending it again could charge twice.
        raise SubmissionUncertainError(message or f"HTTP {status}", status=status)
    if status in (429, 503):
        raise RateLimitedError(message, status=status, retry_after=retry_after(response.headers))
    if status == 401:
        log.error("toapis refused the API key (401): set a valid TOAPIS_API_KEY")
        raise AuthenticationError(message, status=status)
    if status == 402:
        log.error("toapis account balance is empty (402): top it up")
        raise PaymentRequiredError(message, status=status)
    if status == 404:
        raise TaskNotFoundError(message, status=status)
    if status == 422:
        raise ContentPolicyError(message, status=status)
    if status == 400 and isinstance(body, dict) and body.get("success") is False:
        raise UploadRejectedError(message, status=status)
    if status == 400 and error_code(body) == "webhook_not_configured":
        raise WebhookNotConfiguredError(message, status=status)
    if 400 <= status < 500:
        raise InvalidRequestError(message, status=status)
    raise ServiceUnavailableError(message or f"HTTP {status}", status=status)


def error_code(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else ""


def outcome(status: int) -> str:
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    if status >= 400:
        return "4xx"
    return "ok"


def error_message(body: Any) -> str:
    """The human part of any of the documented error shapes."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    message = body.get("message")
    return message if isinstance(message, str) else ""


def observe(budget: Budget, response: Answer) -> None:
    """A 429/503 slows the whole budget; `X-RateLimit-Remaining: 0` pauses it to the reset."""
    if response.status_code in (429, 503):
        budget.slow_down(retry_after(response.headers), f"HTTP {response.status_code}")
        return
    remaining = response.headers.get("X-RateLimit-Remaining")
    reset = response.headers.get("X-RateLimit-Reset")
    if remaining is None or reset is None:
        return
    try:
        left, at = float(remaining), float(reset)
    except ValueError:
        return
    if left <= 0:
        # A unix time or a number of seconds: both forms are in use.
        budget.exhausted_until(at - time.time() if at > 1e9 else at)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (a number or an HTTP date), capped at 15 minutes."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    seconds = max(0.0, seconds)
    if seconds > RETRY_AFTER_CAP:
        log.warning(
            "toapis asked to wait %.0fs (Retry-After); waiting %.0fs at most",
            seconds,
            RETRY_AFTER_CAP,
        )
        return RETRY_AFTER_CAP
    return seconds
