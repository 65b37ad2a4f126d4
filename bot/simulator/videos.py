"""Simulated video generation: the create request with a `prompt`, and its result file."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.simulator.tasks import SimTask

# As the reference says; sora-2-vip is assumed to follow sora-2.
DURATIONS: dict[str, tuple[int, ...]] = {
    "sora-2": (10, 15),
    "sora-2-pro": (15, 25),
    "sora-2-vip": (10, 15),
}
ASPECT_RATIOS = ("16:9", "9:16")
_MENTION = re.compile(r"@([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


@dataclass(frozen=True)
class VideoCreate:
    """A validated video-generation request."""

    model: str
    prompt: str
    duration: int
    aspect_ratio: str
    character_url: str | None = None


def known_usernames(tasks: Mapping[str, SimTask]) -> set[str]:
    """Usernames of every character the simulator has created."""
    return {c.get("username", "") for task in tasks.values() for c in task.characters}


def validate_video(body: dict[str, Any], tasks: Mapping[str, SimTask]) -> VideoCreate | str:
    """Check a video request as toapis does; the error message when it is refused."""
    model = body.get("model")
    if model not in DURATIONS:
        return "Invalid request: model must be one of " + ", ".join(DURATIONS)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "Invalid request: prompt is required"
    duration = body.get("duration", DURATIONS[model][0])
    if isinstance(duration, str) and duration.isdigit():
        duration = int(duration)
    if not isinstance(duration, int) or isinstance(duration, bool):
        return "Invalid request: duration must be a number of seconds"
    if duration not in DURATIONS[model]:
        allowed = " or ".join(str(d) for d in DURATIONS[model])
        return f"Invalid request: duration for {model} must be {allowed}"
    ratio = body.get("aspect_ratio", "16:9")
    if ratio not in ASPECT_RATIOS:
        return "Invalid request: aspect_ratio must be 16:9 or 9:16"
    known = known_usernames(tasks)
    for name in _MENTION.findall(prompt):
        if name not in known:
            return f"Invalid request: character @{name} not found"
    character_url = body.get("character_url")
    if character_url is not None:
        source = tasks.get(str(character_url))
        if source is None or not source.characters:
            return f"Invalid request: character_url {character_url} not found"
    return VideoCreate(
        model=model,
        prompt=prompt,
        duration=duration,
        aspect_ratio=str(ratio),
        character_url=str(character_url) if character_url is not None else None,
    )


_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def result_video(size: int) -> bytes:
    """The bytes served as a generated video: an MP4 `ftyp` box, padded to `size`."""
    return b"".join(result_video_chunks(size, max(1, size)))


def result_video_chunks(size: int, chunk: int) -> Iterator[bytes]:
    """`result_video(size)` in pieces of `chunk` bytes (a large one is never built whole)."""
    head = _HEAD[:size]
    yield head
    left = size - len(head)
    zeros = bytes(min(chunk, left))
    while left > 0:
        yield zeros[: min(chunk, left)]
        left -= chunk
