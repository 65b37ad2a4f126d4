"""Binding a character's likeness to the engines that work from its stills.

Seedance 2 keeps a private-avatar group with the three stills as image assets, usable once
each is `active`; Vidu Q3 takes the stills' uploaded URLs with every request. A binding is
a job like any other: it waits its turn in the submit line, its calls draw on the same
budgets (uploads, the group and assets count as submits, asset reads as queries), and one
asyncio task follows it until every asset is active or refused, so a restart resumes it.

How far it came is written to the job (`meta["binding"]`) after every call, before the
next: a crash or a 429 never uploads a still or makes an asset twice. Each still is
uploaded once; its URL serves Vidu and Seedance's `source_url`, and is never shown.
This module says what a binding is and how far one came; `bot.jobs.binder` makes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.records import (
    Job,
    NewJob,
)
from bot.i18n import N_
from bot.i18n.text import Text
from bot.providers.base import (
    AssetRefusedError,
    AuthenticationError,
    FaceRefusedError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
)
from bot.providers.engines import Engine

SORA, SEEDANCE, VIDU = Engine.SORA.value, Engine.SEEDANCE.value, Engine.VIDU.value
ENGINE_ORDER = (SORA, SEEDANCE, VIDU)
LABELS = {engine.value: engine.label for engine in Engine}
STILL_ENGINES = (SEEDANCE, VIDU)  # the engines a likeness is bound to from its stills

NO_LIKENESS = "the character's likeness is no longer kept"
SORA_GONE = N_("no longer offered by the video service")
STALE_ASSETS = "AssetUnusableError"  # a video's error code: Seedance lost its assets
STALE_IMAGES = "ImageUnreadableError"  # a video's error code: Vidu cannot read the stills
REUPLOADING = N_(
    "Vidu Q3 can no longer read these characters' images, so they are being uploaded again "
    "from their kept stills: try again in a minute."
)
REBINDING = N_(
    "Seedance 2 no longer has these characters' images ready, so they are being made again "
    "from their kept stills: try again in a minute."
)
LIKENESS_MODEL = "likeness"  # the `model` of a binding job (it asks no model for a task)
REFUSED_PREFIX = "refused: "  # an engine's own words follow
FACE_REFUSED = N_("refuses real people's faces")
# Errors that say "not now" rather than "not this": the job keeps its place and is sent
# again (or, when uncertain, asked about), as a create request would be.
NOT_NOW = (
    RateLimitedError,
    ServiceUnavailableError,
    PaymentRequiredError,
    AuthenticationError,
    SubmissionUncertainError,
)


@dataclass(frozen=True, slots=True)
class EnginePlan:
    """Which engines a new character is bound to: Sora by its own task (`sora`), the
    others from the likeness (`bind`); `refused`: engines that will not take it, why."""

    sora: bool
    bind: tuple[str, ...]
    refused: dict[str, str]


def plan_engines(enabled: tuple[str, ...] | None, *, sora_gone: bool) -> EnginePlan:
    """The plan for a server's engines (empty: all; None: Sora alone, as a front without
    engines asks); a Sora model the service said is gone is refused, not sent."""
    if enabled is None:
        return EnginePlan(sora=True, bind=(), refused={})
    chosen = [e for e in ENGINE_ORDER if e in (enabled or ENGINE_ORDER)]
    refused = {SORA: SORA_GONE} if SORA in chosen and sora_gone else {}
    return EnginePlan(
        sora=SORA in chosen and not sora_gone,
        bind=tuple(e for e in chosen if e in STILL_ENGINES),
        refused=refused,
    )


class BindRequest(BaseModel):
    """What a binding job does: bind the likeness kept at `likeness` to `bind` engines,
    for a character of that name (a new one when `character` is None)."""

    model_config = ConfigDict(frozen=True)

    bind: tuple[str, ...]
    likeness: str
    name: str
    character: int | None = None  # the character's row id, when it exists already
    # Engines refused before any call (a retired model), with the reason to show.
    refused: dict[str, str] = Field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """As stored with the job."""
        return self.model_dump(mode="json")


def is_bind_request(request: dict[str, Any]) -> bool:
    """Whether a stored request binds a likeness (rather than asking toapis for a task)."""
    return "bind" in request and "likeness" in request


# Stores a job and puts it in the submit line without waiting for it (the tracker's).
Enqueue = Callable[[NewJob, "BindRequest"], Awaitable[Job]]


@dataclass
class Progress:
    """How far a binding came, as the job keeps it."""

    urls: list[str]
    count: int | None  # how many stills the likeness has (None: not read yet)
    group_id: str | None
    assets: list[str]
    active: list[str]
    refused: dict[str, str]

    @classmethod
    def of(cls, job: Job) -> Progress:
        """What the job recorded (nothing yet: empty)."""
        data = job.meta.get("binding") or {}
        return cls(
            urls=[str(u) for u in data.get("urls") or []],
            count=data.get("count"),
            group_id=data.get("group_id"),
            assets=[str(a) for a in data.get("assets") or []],
            active=[str(a) for a in data.get("active") or []],
            refused={str(k): str(v) for k, v in (data.get("refused") or {}).items()},
        )

    def stored(self) -> dict[str, Any]:
        return {
            "urls": self.urls,
            "count": self.count,
            "group_id": self.group_id,
            "assets": self.assets,
            "active": self.active,
            "refused": self.refused,
        }


def refusal_reason(exc: ProviderError) -> str:
    """An engine's refusal in the words a card shows."""
    if isinstance(exc, FaceRefusedError):
        return FACE_REFUSED
    detail = exc.detail if isinstance(exc, AssetRefusedError) and exc.detail else exc.user_message
    return f"{REFUSED_PREFIX}{detail}"


def reason_text(reason: str | None) -> Text | str:
    """A binding's stored reason as a member reads it: the bot's fixed reasons by msgid
    (mapped back at render), an engine's own words as they are."""
    if not reason or reason == "refused":
        return Text("refused")
    if reason in (FACE_REFUSED, SORA_GONE):
        return Text(reason)
    if reason.startswith(REFUSED_PREFIX):
        return Text("refused: {detail}", detail=reason.removeprefix(REFUSED_PREFIX))
    return reason


def no_engine_message(reasons: dict[str, str]) -> str:
    """Why no engine took a character, engine by engine (English)."""
    return str(no_engine_text(reasons))


def no_engine_text(reasons: dict[str, str]) -> Text:
    """Why no engine took a character, engine by engine, in any language."""
    parts = [
        Text("{engine}: {reason}", engine=LABELS.get(e, e), reason=reason_text(reasons[e]))
        for e in ENGINE_ORDER
        if e in reasons
    ]
    joined: Text = parts[0] if parts else Text("none")
    for part in parts[1:]:
        joined = Text("{first}; {second}", first=joined, second=part)
    return Text("No video engine could take this character. {reasons}.", reasons=joined)


def refusals_of(job: Job) -> dict[str, str]:
    """The reasons a binding job kept: refused before any call, then by the services."""
    try:
        before = BindRequest.model_validate(job.request).refused
    except ValueError:
        before = {}
    return {**before, **Progress.of(job).refused}
