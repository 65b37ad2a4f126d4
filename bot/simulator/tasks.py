"""Simulated character tasks: validation of create requests, state, and their schedule."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from bot.simulator.media_check import check_video
from bot.simulator.scenario import Scenario

log = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro", "sora-2-vip")
RESULT_LIFETIME = 24 * 3600
HANG_POLL = 0.02

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_TIMESTAMPS = re.compile(rf"^\s*{_NUMBER}\s*,\s*{_NUMBER}\s*$")
_ADJECTIVES = ("Turbo", "Sunny", "Quiet", "Brave", "Mellow", "Zippy", "Cosmic", "Velvet")
_NOUNS = ("Whiskers", "Pebble", "Comet", "Maple", "Biscuit", "Nova", "Otter", "Pixel")


def new_task_id() -> str:
    """`task_` followed by 26 uppercase letters and digits."""
    alphabet = string.ascii_uppercase + string.digits
    return "task_" + "".join(secrets.choice(alphabet) for _ in range(26))


def new_character(task_id: str, number: int, base_url: str) -> dict[str, str]:
    """One character as a completed task lists it."""
    display_name = f"{secrets.choice(_ADJECTIVES)} {secrets.choice(_NOUNS)}"
    prefix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))
    name_part = display_name.lower().replace(" ", "_")[:10]
    return {
        "id": "ch_" + secrets.token_hex(16),
        "display_name": display_name,
        "username": f"{prefix}.{name_part}",
        "profile_picture_url": f"{base_url}/f/image/{task_id}_{number}.jpg",
    }


def video_url(base_url: str, task_id: str) -> str:
    """Where the simulator serves a video task's result."""
    return f"{base_url}/f/video/{task_id}.mp4"


@dataclass(frozen=True)
class CreateRequest:
    """A validated create-character request."""

    model: str
    start: float
    end: float
    url: str | None
    from_task: str | None


@dataclass
class SimTask:
    """The simulator's state of one task."""

    id: str
    model: str
    start: float
    end: float
    url: str | None = None
    from_task: str | None = None
    status: str = QUEUED
    progress: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))
    completed_at: int | None = None
    expires_at: int | None = None
    characters: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    history: list[tuple[str, int]] = field(default_factory=lambda: [(QUEUED, 0)])
    runner: asyncio.Task[None] | None = field(default=None, repr=False)
    callback_url: str | None = None
    on_final: Callable[[SimTask], None] | None = field(default=None, repr=False)
    # Video generation (a request with a prompt): its settings and result URL.
    kind: str = "character"
    prompt: str | None = None
    duration: int | None = None
    aspect_ratio: str | None = None
    video_url: str | None = None

    @property
    def is_final(self) -> bool:
        """True once completed or failed."""
        return self.status in (COMPLETED, FAILED)

    def advance(self, progress: int) -> None:
        """Be in progress at `progress` percent."""
        self.status = IN_PROGRESS
        self.progress = progress
        self.history.append((self.status, progress))

    def complete(self, characters: list[dict[str, str]]) -> None:
        """End successfully with these characters."""
        self._finish(COMPLETED)
        self.progress = 100
        self.characters = characters
        self.history.append((self.status, self.progress))

    def complete_video(self, url: str) -> None:
        """End a video task successfully with its result URL."""
        self.video_url = url
        self._finish(COMPLETED)
        self.progress = 100
        self.history.append((self.status, self.progress))

    def fail(self, code: str, message: str) -> None:
        """End failed with this error."""
        self._finish(FAILED)
        self.error = {"code": code, "message": message}
        self.history.append((self.status, self.progress))

    def _finish(self, status: str) -> None:
        self.status = status
        self.completed_at = int(time.time())
        self.expires_at = self.completed_at + RESULT_LIFETIME
        if self.on_final is not None:
            # Called once the task object is complete (after the caller's own updates).
            asyncio.get_running_loop().call_soon(self.on_final, self)

    def to_json(self) -> dict[str, Any]:
        """The task object the status endpoints answer."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "generation.task",
            "model": self.model,
            "status": self.status,
            "progress": self.progress,
            "created_at": self.created_at,
            "metadata": {},
        }
        if self.is_final:
            body["completed_at"] = self.completed_at
            body["expires_at"] = self.expires_at
        if self.status == COMPLETED and self.kind == "video":
            body["result"] = {"type": "video", "data": [{"url": self.video_url, "format": "mp4"}]}
        elif self.status == COMPLETED:
            body["result"] = {"type": "character", "data": {"characters": self.characters}}
        if self.status == FAILED:
            body["error"] = self.error
        return body


def validate_create(body: Any, tasks: Mapping[str, SimTask]) -> CreateRequest | str:
    """Check a create request as toapis does; the error message when it is refused."""
    if not isinstance(body, dict):
        return "Invalid request: body must be a JSON object"
    model = body.get("model")
    if model not in MODELS:
        return "Invalid request: model must be one of " + ", ".join(MODELS)
    timestamps = body.get("timestamps")
    match = _TIMESTAMPS.match(timestamps) if isinstance(timestamps, str) else None
    if match is None:
        return 'Invalid request: timestamps must be a string "start,end" in seconds'
    start, end = Decimal(match.group(1)), Decimal(match.group(2))
    if not 1 <= end - start <= 3:
        return "Invalid request: timestamps range must be between 1-3 seconds"
    url, from_task = body.get("url"), body.get("from_task")
    given = [value for value in (url, from_task) if value is not None]
    if len(given) != 1 or not isinstance(given[0], str) or not given[0].strip():
        return "Invalid request: exactly one of url or from_task is required"
    if isinstance(url, str) and not url.lower().startswith(("http://", "https://")):
        return "Invalid request: url must be an http or https URL"
    if isinstance(from_task, str):
        source = tasks.get(from_task)
        if source is None:
            return f"Invalid request: from_task {from_task} not found"
        if source.status != COMPLETED:
            return f"Invalid request: from_task {from_task} has not completed"
    return CreateRequest(
        model=model,
        start=float(start),
        end=float(end),
        url=url if isinstance(url, str) else None,
        from_task=from_task if isinstance(from_task, str) else None,
    )


async def run_task(
    task: SimTask,
    plan: Scenario,
    *,
    live: Callable[[], Scenario],
    base_url: str,
    client: httpx.AsyncClient,
) -> None:
    """Drive a task through its life as `plan` (the scenario at creation) says.

    Only `hang` is read from the live scenario, so clearing it releases waiting tasks.
    """
    try:
        await asyncio.sleep(plan.queued_for)
        task.advance(0)
        if plan.check_media and task.url:
            problem = await check_video(client, task.url, task.end)
            if problem is not None:
                task.fail(problem.code, problem.message)
                return
        for step in plan.progress_steps:
            task.advance(step)
            await asyncio.sleep(plan.step_interval)
        # `hang` is a plain field anyone may assign, so it is polled rather than awaited.
        while live().hang:  # noqa: ASYNC110
            await asyncio.sleep(HANG_POLL)
        if plan.fail_with is not None:
            task.fail(*plan.fail_with)
        elif task.kind == "video":
            task.complete_video(video_url(base_url, task.id))
        else:
            count = plan.characters
            task.complete([new_character(task.id, n, base_url) for n in range(1, count + 1)])
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("simulated task %s crashed", task.id)
        if not task.is_final:
            task.fail("internal_error", "The simulator failed while running the task")
