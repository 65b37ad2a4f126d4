"""The character engines and what each model can make (docs/engines.md, docs/toapis.md).

One source of truth for the models offered for videos, their durations, aspect ratios,
resolutions and reference limits; `bot.providers.video` checks requests against it and the
fronts build their choices from it. Pure: no I/O.
"""

from __future__ import annotations

from enum import StrEnum

from bot.i18n.text import Text


class Engine(StrEnum):
    """A way of keeping a character the same across videos, named by its main model."""

    SORA = "sora-2"
    SEEDANCE = "seedance-2"
    VIDU = "viduq3"

    @property
    def label(self) -> str:
        """The engine's plain name ("Seedance 2")."""
        return LABELS[self]


LABELS: dict[Engine, str] = {
    Engine.SORA: "Sora 2",
    Engine.SEEDANCE: "Seedance 2",
    Engine.VIDU: "Vidu Q3",
}
# The models each engine serves for videos, in the order they are offered.
VIDEO_MODELS_OF: dict[Engine, tuple[str, ...]] = {
    Engine.SORA: ("sora-2", "sora-2-pro"),
    Engine.SEEDANCE: ("seedance-2", "seedance-2-fast", "seedance-2-mini"),
    Engine.VIDU: ("viduq3",),
}
VIDEO_MODELS: tuple[str, ...] = tuple(m for models in VIDEO_MODELS_OF.values() for m in models)
# sora-2-vip is no longer offered for videos but stays accepted (character creation, and
# requests stored before); it is sora-2 with a higher priority.
_ALSO_SORA = ("sora-2-vip",)

# Seconds each model can make. The reference gives sora-2 and sora-2-pro only; sora-2-vip
# is assumed to follow sora-2. Seedance's automatic length (0 / -1) is not offered.
DURATIONS: dict[str, tuple[int, ...]] = {
    "sora-2": (10, 15),
    "sora-2-pro": (15, 25),
    "sora-2-vip": (10, 15),
    **{model: tuple(range(4, 16)) for model in VIDEO_MODELS_OF[Engine.SEEDANCE]},
    "viduq3": tuple(range(3, 17)),
}
# The length asked for when none is given: Sora's shortest, the others' documented default.
DEFAULT_DURATIONS: dict[Engine, int | None] = {
    Engine.SORA: None,  # the model's shortest
    Engine.SEEDANCE: 5,
    Engine.VIDU: 5,
}

ASPECT_RATIOS_OF: dict[Engine, tuple[str, ...]] = {
    Engine.SORA: ("16:9", "9:16"),
    Engine.SEEDANCE: ("16:9", "9:16", "21:9", "4:3", "1:1", "3:4"),
    Engine.VIDU: ("16:9", "9:16", "1:1"),
}
DEFAULT_ASPECT_RATIO = "16:9"

# Resolutions a request may name (left out, the service picks its default).
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    "seedance-2": ("480p", "720p", "1080p", "4k"),
    "seedance-2-fast": ("480p", "720p"),
    "seedance-2-mini": ("480p", "720p"),
    "viduq3": ("540p", "720p", "1080p"),
}

IMAGES_PER_CHARACTER = 3  # the stills a character keeps
MAX_CHARACTERS = 3  # characters in one video
SEEDANCE_MAX_IMAGES = 9  # reference images in one Seedance request
VIDU_MAX_SUBJECTS = 7
VIDU_SUBJECT_IMAGES = 3  # images per Vidu subject
VIDU_MAX_IMAGE_URLS = 7
PROMPT_LIMITS: dict[Engine, int] = {
    Engine.SORA: 2000,
    Engine.SEEDANCE: 2000,  # not stated: Sora's limit, to be safe
    Engine.VIDU: 5000,
}


def engine_of(model: str) -> Engine | None:
    """The engine serving `model` (None: a model no engine serves)."""
    if model in _ALSO_SORA:
        return Engine.SORA
    for engine, models in VIDEO_MODELS_OF.items():
        if model in models:
            return engine
    return None


def aspect_ratios(model: str) -> tuple[str, ...]:
    """The aspect ratios `model` makes (none for an unknown model)."""
    engine = engine_of(model)
    return ASPECT_RATIOS_OF[engine] if engine is not None else ()


def default_duration(model: str) -> int:
    """The length asked for when none is given: 10 s for sora-2, 15 s for sora-2-pro (the
    shortest each makes), 5 s for Seedance and Vidu (their documented default)."""
    engine = engine_of(model)
    default = DEFAULT_DURATIONS[engine] if engine is not None else None
    return default if default is not None else DURATIONS.get(model, (10,))[0]


def duration_problem(model: str, duration: int) -> Text | None:
    """Why `model` cannot make `duration` seconds, in plain words (None: it can)."""
    allowed = DURATIONS.get(model)
    if allowed is None:
        return Text("{model} cannot make videos.", model=model)
    if duration in allowed:
        return None
    if len(allowed) > 2:
        return Text(
            "{model} makes videos of {low} to {high} s, not {duration} s.",
            model=model,
            low=allowed[0],
            high=allowed[-1],
            duration=duration,
        )
    if len(allowed) == 2:
        return Text(
            "{model} makes videos of {first} s or {second} s, not {duration} s.",
            model=model,
            first=allowed[0],
            second=allowed[1],
            duration=duration,
        )
    return Text(
        "{model} makes videos of {first} s, not {duration} s.",
        model=model,
        first=allowed[0],
        duration=duration,
    )


def ratio_problem(model: str, ratio: str) -> Text | None:
    """Why `model` cannot make a `ratio` video, in plain words (None: it can)."""
    allowed = aspect_ratios(model)
    if not allowed:
        return Text("{model} cannot make videos.", model=model)
    if ratio in allowed:
        return None
    return Text(
        "{model} makes videos in {allowed}, not {asked}.",
        model=model,
        allowed=", ".join(allowed),
        asked=ratio,
    )


def resolution_problem(model: str, resolution: str) -> Text | None:
    """Why `model` cannot make `resolution`, in plain words (None: it can)."""
    allowed = RESOLUTIONS.get(model, ())
    if resolution in allowed:
        return None
    if not allowed:
        return Text("{model} takes no resolution.", model=model)
    return Text(
        "{model} makes videos in {allowed}, not {asked}.",
        model=model,
        allowed=", ".join(allowed),
        asked=resolution,
    )
