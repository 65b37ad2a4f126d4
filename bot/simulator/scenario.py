"""The script a `Simulator` follows: timings, failures and injected answers.

Every field has a default and may be changed while the simulator runs, directly or as
JSON through `POST /_sim/scenario`. Count-style fields (`rate_limit_submits`,
`rate_limit_queries`, `server_errors`, `unavailable`, `malformed`, `not_found_queries`)
are decremented as the simulator consumes them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.simulator.fault_rates import FAULT_KINDS

DEFAULT_PROGRESS_STEPS: tuple[int, ...] = (10, 35, 60, 85)
COUNTERS: tuple[str, ...] = (
    "rate_limit_submits",
    "rate_limit_queries",
    "server_errors",
    "unavailable",
    "malformed",
    "not_found_queries",
)


def _default_steps() -> list[int]:
    return list(DEFAULT_PROGRESS_STEPS)


@dataclass
class Scenario:
    """How the simulated toapis behaves; see the field comments."""

    api_key: str = "sim-key"  # the only Bearer token accepted
    latency: float = 0.0  # seconds of delay before every answer
    latency_jitter: float = 0.0  # up to this much more, at random (before counting it)
    submit_delay: float = 0.0  # seconds a create request waits for its answer (task exists)
    queued_for: float = 0.2  # seconds a new task stays queued
    progress_steps: list[int] = field(default_factory=_default_steps)
    step_interval: float = 0.2  # seconds between progress steps
    # Each task's `queued_for` and `step_interval` scaled by one factor drawn uniformly
    # from 1 +- this (0: every task takes the same time), from dice seeded with
    # `duration_seed`, so a run's durations repeat.
    duration_spread: float = 0.0
    duration_seed: int = 0
    fail_with: tuple[str, str] | None = None  # (code, message): tasks end failed
    characters: int = 1  # characters a completed task returns
    hang: bool = False  # tasks stay in_progress until this is cleared
    rate_limit_submits: int = 0  # next N submits answer 429
    rate_limit_queries: int = 0  # next N status queries answer 429
    retry_after: float = 1  # Retry-After of 429 and 503 answers
    server_errors: int = 0  # next N API requests answer 500
    unavailable: int = 0  # next N submits answer 503 rate_limit_unavailable
    malformed: int = 0  # next N API answers are 200 with a non-JSON body
    submit_status: tuple[int, dict[str, Any]] | None = None  # forced submit answer
    characters_tasks_404: bool = False  # GET /v1/characters_tasks/{id} answers 404
    not_found_queries: int = 0  # next N status queries (either page) answer 404, known or not
    check_media: bool = True  # download and probe a task's `url`
    tier: str | None = None  # enforce toapis' limits: default, vip or svip (None: count only)
    submit_per_second: float = 0  # override the tier's submit limit (burst: ten per 10 s)
    query_per_second: float = 0  # override the tier's query limit (burst: ten per 10 s)
    out_of_credit: bool = False  # create requests answer 402 (balance empty) until cleared
    max_upload_bytes: int = 50 * 1024 * 1024  # upload size limit
    retired_models: list[str] = field(default_factory=list)  # refused as not available
    video_bytes: int = 64 * 1024  # size of the file a completed video task serves
    video_bytes_per_second: float = 0  # how fast that file is served (0: at once)
    # A real video file served as every video task's result instead of padded bytes
    # (tests that read the result, e.g. a character's likeness taken from it).
    result_video_file: str | None = None
    webhook_secret: str | None = None  # webhooks configured for the key (None: 400 if asked)
    # Engines beyond sora-2 (docs/engines.md):
    sora_retired: bool = False  # the sora-2 family answers "model not found" everywhere
    refuse_faces: bool = False  # private-avatar images with a face in them end failed
    vidu_needs_image_urls: bool = False  # viduq3 without `image_urls` answers 400 asking for it
    asset_delay: float = 0.2  # seconds a private-avatar asset stays processing
    asset_fail_with: str | None = None  # a message: assets end failed with it
    credits: float = 100_000.0  # the account's credit before any spending (200 per USD)
    credits_per_task: float = 20.0  # credits each created task spends
    unlimited_quota: bool = False  # the balance says the key has no quota
    # Faults at a rate, each a probability per request (bot/simulator/fault_rates.py):
    fault_rates: dict[str, float] = field(default_factory=dict)
    slow_seconds: tuple[float, float] = (2.0, 6.0)  # how long a `slow` answer waits

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Build a scenario from JSON-style data (lists for tuples); unknown keys fail."""
        scenario = cls()
        scenario.update(**data)
        return scenario

    def update(self, **fields: Any) -> None:
        """Change fields after validating all of them; raises ValueError on bad input."""
        converted = {name: _convert(name, value) for name, value in fields.items()}
        for name, value in converted.items():
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-compatible data."""
        data = dataclasses.asdict(self)
        for name in ("fail_with", "submit_status", "slow_seconds"):
            if data[name] is not None:
                data[name] = list(data[name])
        return data

    def consume(self, counter: str) -> bool:
        """Use up one unit of a count-style field; True if one was left."""
        if counter not in COUNTERS:
            raise ValueError(f"{counter} is not a counter")
        left: int = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True

    def copy(self) -> Scenario:
        """An independent copy (a task's plan is the scenario at its creation)."""
        return Scenario.from_dict(self.to_dict())


# --- conversion of JSON values ----------------------------------------------------------


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return float(value)


def _fraction(name: str, value: Any) -> float:
    number = _number(name, value)
    if number >= 1:
        raise ValueError(f"{name} must be at least 0 and under 1")
    return number


def _count(name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _names(name: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)


def _tier(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if value in ("default", "vip", "svip"):
        return str(value)
    raise ValueError(f"{name} must be null, default, vip or svip")


def _steps(name: str, value: Any) -> list[int]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"{name} must be a list of integers 0-100")
    steps = [_count(name, step) for step in value]
    if any(step > 100 for step in steps):
        raise ValueError(f"{name} must be a list of integers 0-100")
    return steps


def _rates(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be an object of fault kind -> probability")
    rates = {}
    for kind, rate in value.items():
        if kind not in FAULT_KINDS:
            raise ValueError(f"{name}: {kind!r} is not one of " + ", ".join(FAULT_KINDS))
        probability = _number(name, rate)
        if probability > 1:
            raise ValueError(f"{name}: a probability is at most 1")
        rates[str(kind)] = probability
    return rates


def _seconds_range(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{name} must be [shortest, longest] in seconds")
    low, high = _number(name, value[0]), _number(name, value[1])
    if low > high:
        raise ValueError(f"{name} must be [shortest, longest] in seconds")
    return low, high


def _failure(name: str, value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    if isinstance(value, str) and ":" in value:
        code, _, message = value.partition(":")
        return code, message
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(part, str) for part in value)
    ):
        return value[0], value[1]
    raise ValueError(f"{name} must be null, [code, message] or 'code:message'")


def _forced(name: str, value: Any) -> tuple[int, dict[str, Any]] | None:
    if value is None:
        return None
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and 100 <= value[0] <= 599
        and isinstance(value[1], dict)
    ):
        return value[0], dict(value[1])
    raise ValueError(f"{name} must be null or [http status, body object]")


_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "api_key": _text,
    "latency": _number,
    "latency_jitter": _number,
    "submit_delay": _number,
    "queued_for": _number,
    "progress_steps": _steps,
    "step_interval": _number,
    "duration_spread": _fraction,
    "duration_seed": _count,
    "fail_with": _failure,
    "characters": _count,
    "hang": _flag,
    "rate_limit_submits": _count,
    "rate_limit_queries": _count,
    "retry_after": _number,
    "server_errors": _count,
    "unavailable": _count,
    "malformed": _count,
    "submit_status": _forced,
    "characters_tasks_404": _flag,
    "not_found_queries": _count,
    "check_media": _flag,
    "max_upload_bytes": _count,
    "video_bytes": _count,
    "video_bytes_per_second": _number,
    "result_video_file": _optional_text,
    "retired_models": _names,
    "webhook_secret": _optional_text,
    "tier": _tier,
    "submit_per_second": _number,
    "query_per_second": _number,
    "out_of_credit": _flag,
    "sora_retired": _flag,
    "refuse_faces": _flag,
    "vidu_needs_image_urls": _flag,
    "asset_delay": _number,
    "asset_fail_with": _optional_text,
    "credits": _number,
    "credits_per_task": _number,
    "unlimited_quota": _flag,
    "fault_rates": _rates,
    "slow_seconds": _seconds_range,
}


def _convert(name: str, value: Any) -> Any:
    converter = _CONVERTERS.get(name)
    if converter is None:
        raise ValueError(f"unknown scenario field: {name}")
    return converter(name, value)
