"""Video generation with saved characters (`docs/toapis.md` section 7, `docs/engines.md`
sections 4-5).

The same `POST /v1/videos/generations` serves every engine: Sora names characters as
`@username` in the prompt, Seedance 2 takes reference images (`image_with_roles`), Vidu Q3
takes `metadata.subjects`. One `VideoRequest` holds the fields of all three, so a stored
request reads back whatever its engine; `body()` sends only what the model's engine takes.
Everything is checked here (`request_problem`) before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.providers.engines import (
    ASPECT_RATIOS_OF,
    DEFAULT_ASPECT_RATIO,
    DURATIONS,
    PROMPT_LIMITS,
    SEEDANCE_MAX_IMAGES,
    VIDU_MAX_IMAGE_URLS,
    VIDU_MAX_SUBJECTS,
    VIDU_SUBJECT_IMAGES,
    Engine,
    default_duration,
    duration_problem,
    engine_of,
    ratio_problem,
    resolution_problem,
)

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_ASPECT_RATIO",
    "DURATIONS",
    "MAX_PROMPT_LENGTH",
    "VIDEO_URL_LIFETIME",
    "ImageRole",
    "Subject",
    "VideoMetadata",
    "VideoRequest",
    "default_duration",
    "duration_problem",
    "is_video_request",
    "mentions",
    "request_problem",
    "with_mentions",
]

ASPECT_RATIOS: tuple[str, ...] = ASPECT_RATIOS_OF[Engine.SORA]  # Sora's (offered everywhere)
VIDEO_URL_LIFETIME = 24 * 3600  # toapis keeps a result video this long
MAX_PROMPT_LENGTH = PROMPT_LIMITS[Engine.SORA]
REFERENCE_IMAGE = "reference_image"
# `@username` as toapis writes character usernames (`duksvfkf.turbo_whis`).
MENTION = re.compile(r"@([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


class ImageRole(BaseModel):
    """A Seedance reference: `asset://<asset_id>` or an image URL, with its role."""

    model_config = ConfigDict(frozen=True)

    url: str
    role: str = REFERENCE_IMAGE


class Subject(BaseModel):
    """A Vidu subject: the `@name` the prompt uses and up to 3 public image URLs."""

    model_config = ConfigDict(frozen=True)

    name: str
    images: tuple[str, ...] = Field(repr=False)  # uploaded URLs: never logged


class VideoMetadata(BaseModel):
    """Vidu's `metadata`: the subjects of the request."""

    model_config = ConfigDict(frozen=True)

    subjects: tuple[Subject, ...] = ()


class VideoRequest(BaseModel):
    """What we ask for: a video from a prompt naming saved characters the engine's way.

    Left out (None), a field is not sent: the service's default applies.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    prompt: str
    duration: int
    aspect_ratio: str = DEFAULT_ASPECT_RATIO
    resolution: str | None = None
    # Seedance 2
    image_with_roles: tuple[ImageRole, ...] | None = None
    generate_audio: bool | None = None
    client_business_id: str | None = None
    # Vidu Q3
    metadata: VideoMetadata | None = None
    image_urls: tuple[str, ...] | None = Field(default=None, repr=False)
    audio: bool | None = None

    @property
    def engine(self) -> Engine | None:
        """The engine serving this request's model (None: unknown model)."""
        return engine_of(self.model)

    def body(self) -> dict[str, Any]:
        """The JSON body of the create request: only what the model's engine takes."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": self.prompt,
            "duration": self.duration,
            "aspect_ratio": self.aspect_ratio,
        }
        engine = self.engine
        if engine is Engine.SEEDANCE:
            extra: dict[str, Any] = {
                "resolution": self.resolution,
                "generate_audio": self.generate_audio,
                "client_business_id": self.client_business_id,
            }
            if self.image_with_roles:
                extra["image_with_roles"] = [r.model_dump() for r in self.image_with_roles]
        elif engine is Engine.VIDU:
            extra = {"resolution": self.resolution, "audio": self.audio}
            if self.metadata is not None and self.metadata.subjects:
                extra["metadata"] = {
                    "subjects": [
                        {"name": s.name, "images": list(s.images)} for s in self.metadata.subjects
                    ]
                }
            if self.image_urls:
                extra["image_urls"] = list(self.image_urls)
        else:
            extra = {}
        body.update({key: value for key, value in extra.items() if value is not None})
        return body

    def with_first_images(self) -> VideoRequest:
        """The same request with each Vidu subject's first image as `image_urls` (what
        viduq3 asks for when subjects alone do not satisfy it)."""
        subjects = self.metadata.subjects if self.metadata is not None else ()
        firsts = [subject.images[0] for subject in subjects if subject.images]
        return self.model_copy(update={"image_urls": tuple(firsts[:VIDU_MAX_IMAGE_URLS])})


def is_video_request(request: dict[str, Any]) -> bool:
    """Whether a stored request is a video request (a prompt, no timestamps)."""
    return "prompt" in request


def request_problem(request: VideoRequest) -> str | None:
    """Why `request` cannot be sent, in plain words (None: it can); nothing is asked of the
    service. Fields another engine takes are not sent, so they are not checked."""
    engine = request.engine
    if engine is None or request.model not in DURATIONS:
        return f"{request.model} cannot make videos."
    if not request.prompt.strip():
        return "The prompt is empty."
    limit = PROMPT_LIMITS[engine]
    if len(request.prompt) > limit:
        return f"{request.model} takes prompts of at most {limit} characters."
    problem = duration_problem(request.model, request.duration) or ratio_problem(
        request.model, request.aspect_ratio
    )
    if problem is None and request.resolution is not None and engine is not Engine.SORA:
        problem = resolution_problem(request.model, request.resolution)
    if problem is not None:
        return str(problem)
    if engine is Engine.SEEDANCE:
        return _seedance_problem(request)
    if engine is Engine.VIDU:
        return _vidu_problem(request)
    return None


def _seedance_problem(request: VideoRequest) -> str | None:
    images = request.image_with_roles or ()
    if len(images) > SEEDANCE_MAX_IMAGES:
        return f"{request.model} takes at most {SEEDANCE_MAX_IMAGES} reference images."
    if any(image.role != REFERENCE_IMAGE or not image.url for image in images):
        return f"{request.model} takes reference images only."
    if request.client_business_id is not None and not request.client_business_id:
        return "The request's business id is empty."
    return None


def _vidu_problem(request: VideoRequest) -> str | None:
    subjects = request.metadata.subjects if request.metadata is not None else ()
    if len(subjects) > VIDU_MAX_SUBJECTS:
        return f"{request.model} takes at most {VIDU_MAX_SUBJECTS} characters."
    names = [subject.name for subject in subjects]
    if len(set(names)) != len(names) or not all(names):
        return f"{request.model} needs a different name for each character."
    for subject in subjects:
        if not 1 <= len(subject.images) <= VIDU_SUBJECT_IMAGES:
            return (
                f"{request.model} takes 1 to {VIDU_SUBJECT_IMAGES} images of each character, "
                f"not {len(subject.images)}."
            )
    if len(request.image_urls or ()) > VIDU_MAX_IMAGE_URLS:
        return f"{request.model} takes at most {VIDU_MAX_IMAGE_URLS} reference images."
    return None


def with_mentions(prompt: str, usernames: list[str]) -> str:
    """The prompt with each character written as `@username` (added in front when absent)."""
    present = set(MENTION.findall(prompt))
    missing = [f"@{name}" for name in usernames if name not in present]
    text = prompt.strip()
    return f"{' '.join(missing)} {text}".strip() if missing else text


def mentions(prompt: str) -> list[str]:
    """The `@username`s a prompt names, in order."""
    return MENTION.findall(prompt)
