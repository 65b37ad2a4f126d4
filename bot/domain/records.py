"""The records everyone speaks in: jobs, characters, their states (no SQL, no discord).

They belong to the core; `storage/` maps rows to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Life of a job as we record it."""

    PREPARING = "preparing"  # row written, the video is being checked, cut and uploaded
    SUBMITTING = "submitting"  # row written, create request about to be / being sent
    WAITING = "waiting"  # not accepted yet (429/503/5xx): the create request is retried later
    UNKNOWN = "unknown"  # died while submitting: may or may not exist at the provider
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True when the tracker has nothing more to poll."""
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.UNKNOWN})
ACTIVE_STATES = frozenset(
    {
        JobState.PREPARING,
        JobState.SUBMITTING,
        JobState.WAITING,
        JobState.QUEUED,
        JobState.IN_PROGRESS,
    }
)


class SourceKind(StrEnum):
    """What the user handed us."""

    ATTACHMENT = "attachment"
    URL = "url"
    PAGE = "page"
    TASK = "task"
    PROMPT = "prompt"  # a video job: the prompt that names the characters


class JobKind(StrEnum):
    """What a job makes: characters from a moment of video, or a video with characters."""

    CHARACTER = "character"
    VIDEO = "video"
    # Binding an existing character's likeness to more engines: not a member's request,
    # so it counts against no limit; its outcome updates the character's card.
    LIKENESS = "likeness"


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a job needs when it is first written (before anything is sent)."""

    guild_id: int
    source_kind: SourceKind
    source_ref: str
    range_start: float
    range_end: float
    model: str
    provider: str = "toapis"
    channel_id: int | None = None
    message_id: int | None = None
    requester_id: int | None = None
    # What is actually sent to the provider (url or from_task, clip-relative timestamps).
    request: dict[str, Any] = field(default_factory=dict)
    # Free-form data the front keeps with the job (e.g. how to fetch the source again).
    meta: dict[str, Any] = field(default_factory=dict)
    kind: JobKind = JobKind.CHARACTER


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job."""

    id: int
    guild_id: int
    channel_id: int | None
    message_id: int | None
    requester_id: int | None
    source_kind: SourceKind
    source_ref: str
    range_start: float
    range_end: float
    model: str
    provider: str
    request: dict[str, Any]
    meta: dict[str, Any]
    task_id: str | None
    state: JobState
    progress: int
    error_code: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    finished_at: float | None
    stalled_at: float | None
    announced_at: float | None
    retry_at: float | None = None  # WAITING: when the create request is sent again
    cancelled_at: float | None = None  # the member cancelled it after it was sent
    kind: JobKind = JobKind.CHARACTER
    # What a completed video job made: {"videos": [{"url", "format"}], "expires_at"}.
    result: dict[str, Any] = field(default_factory=dict)
    # The process that follows the job, and until when its lease holds (see JobLeases).
    owner: str | None = None
    lease_until: float | None = None

    def leased_to_other(self, owner: str, now: float) -> bool:
        """Another process holds a lease on this job that has not expired."""
        return (
            self.owner is not None
            and self.owner != owner
            and self.lease_until is not None
            and self.lease_until >= now
        )


class BindingState(StrEnum):
    """How far a character is bound to one engine."""

    PREPARING = "preparing"  # being made (images uploaded, assets processed)
    READY = "ready"
    REFUSED = "refused"  # the engine would not take it; `reason` says why


@dataclass(frozen=True, slots=True)
class Binding:
    """A character as one engine knows it: Sora's `@username`, Seedance's avatar group
    and assets, Vidu's image URLs (`data`, as the engine needs them)."""

    engine: str
    state: BindingState
    data: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class NewCharacter:
    """A character as a completed task gives it, with its avatar already downloaded."""

    guild_id: int
    character_id: str
    task_id: str
    display_name: str
    username: str
    job_id: int | None = None
    avatar: bytes | None = None
    avatar_mime: str | None = None
    creator_id: int | None = None
    likeness: str | None = None
    bindings: tuple[Binding, ...] = ()  # stored with it (e.g. an engine's refusal)


@dataclass(frozen=True, slots=True)
class Character:
    """A stored character. `avatar` is only loaded by the calls that say so."""

    id: int
    guild_id: int
    character_id: str
    task_id: str
    job_id: int | None
    display_name: str
    username: str
    creator_id: int | None
    created_at: float
    announced_at: float | None
    avatar_mime: str | None = None
    avatar: bytes | None = None
    likeness: str | None = None  # where its clip and stills are kept (None: none kept)
    still_urls: tuple[str, ...] = ()  # its stills as uploaded (public: never shown)
    bindings: tuple[Binding, ...] = ()  # loaded only by the calls that say so

    def binding(self, engine: str) -> Binding | None:
        """Its binding to `engine`, if loaded and made."""
        return next((b for b in self.bindings if b.engine == engine), None)


@dataclass(frozen=True, slots=True)
class UsageCount:
    """Jobs toapis accepted for one member of a guild over some period, failed included.

    `requester_id` is None for jobs whose member asked to be forgotten (and CLI jobs).
    """

    guild_id: int
    requester_id: int | None
    jobs: int
    failed: int


@dataclass(frozen=True, slots=True)
class Quota:
    """The limits a new job is reserved within, for the UTC day that began at `since`.

    Daily counts take jobs toapis accepted since `since` (failed ones included) plus jobs
    not accepted yet (preparing, in line, being sent); `at_once` takes jobs in flight.
    None: no such limit.
    """

    since: float
    at_once: int | None = None  # the member's jobs in flight
    member_day: int | None = None  # the member's jobs today, in this server
    server_day: int | None = None  # the server's jobs today
    global_day: int | None = None  # every server's jobs today (the owner's cap)
    videos_day: int | None = None  # the member's video jobs today (only for a video job)


@dataclass(frozen=True, slots=True)
class Usage:
    """What counts against a `Quota` at one moment."""

    at_once: int = 0
    member_day: int = 0
    server_day: int = 0
    global_day: int = 0
    videos_day: int = 0

    def first_over(self, quota: Quota) -> LimitHit | None:
        """The first limit one more job would pass, or None (the owner's cap first)."""
        for kind in ("global_day", "at_once", "member_day", "server_day", "videos_day"):
            limit: int | None = getattr(quota, kind)
            used: int = getattr(self, kind)
            if limit is not None and used >= limit:
                return LimitHit(kind, used, limit)
        return None


@dataclass(frozen=True, slots=True)
class LimitHit:
    """A job was not reserved: `used` jobs already count against `limit` of `kind`."""

    kind: str
    used: int
    limit: int
