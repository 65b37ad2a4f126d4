"""Video generation with saved characters (`docs/toapis.md` section 7).

The same `POST /v1/videos/generations`, with a `prompt`: characters are named in it as
`@username`. Model and duration are checked here before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16")
DEFAULT_ASPECT_RATIO = "16:9"
# Seconds each model can make. The reference gives sora-2 and sora-2-pro only; sora-2-vip
# is assumed to follow sora-2 (it is sora-2 with a higher priority).
DURATIONS: dict[str, tuple[int, ...]] = {
    "sora-2": (10, 15),
    "sora-2-pro": (15, 25),
    "sora-2-vip": (10, 15),
}
VIDEO_URL_LIFETIME = 24 * 3600  # toapis keeps a result video this long
MAX_PROMPT_LENGTH = 2000
# `@username` as toapis writes character usernames (`duksvfkf.turbo_whis`).
MENTION = re.compile(r"@([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


class VideoRequest(BaseModel):
    """What we ask for: a video from a prompt that names saved characters as `@username`."""

    model_config = ConfigDict(frozen=True)

    model: str
    prompt: str
    duration: int
    aspect_ratio: str = DEFAULT_ASPECT_RATIO

    def body(self) -> dict[str, Any]:
        """The JSON body of the create request."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
        }


def is_video_request(request: dict[str, Any]) -> bool:
    """Whether a stored request is a video request (a prompt, no timestamps)."""
    return "prompt" in request


def default_duration(model: str) -> int:
    """10 s, or 15 s for sora-2-pro (the shortest each model can make)."""
    return DURATIONS.get(model, (10,))[0]


def duration_problem(model: str, duration: int) -> str | None:
    """Why `model` cannot make `duration` seconds, in plain words (None: it can)."""
    allowed = DURATIONS.get(model)
    if allowed is None:
        return f"{model} cannot make videos."
    if duration in allowed:
        return None
    choices = " or ".join(f"{d} s" for d in allowed)
    return f"{model} makes videos of {choices}, not {duration} s."


def with_mentions(prompt: str, usernames: list[str]) -> str:
    """The prompt with each character written as `@username` (added in front when absent)."""
    present = set(MENTION.findall(prompt))
    missing = [f"@{name}" for name in usernames if name not in present]
    text = prompt.strip()
    return f"{' '.join(missing)} {text}".strip() if missing else text


def mentions(prompt: str) -> list[str]:
    """The `@username`s a prompt names, in order."""
    return MENTION.findall(prompt)
