"""Binding a character's likeness to the engines that work from its stills.

Seedance 2 keeps a private-avatar group with the three stills as image assets, usable once
each is `active`; Vidu Q3 takes the stills' uploaded URLs with every request. A binding is
a job like any other: it waits its turn in the submit line, its calls draw on the same
budgets (uploads, the group and assets count as submits, asset reads as queries), and one
asyncio task follows it until every asset is active or refused, so a restart resumes it.

How far it came is written to the job (`meta["binding"]`) after every call, before the
next: a crash or a 429 never uploads a still or makes an asset twice. Each still is
uploaded once; its URL serves Vidu and Seedance's `source_url`, and is never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.records import (
    Binding,
    BindingState,
    Character,
    Job,
    JobKind,
    JobState,
    NewCharacter,
    NewJob,
    SourceKind,
)
from bot.providers.avatars import AssetStatus, AvatarAsset, UploadedImage
from bot.providers.base import (
    AssetRefusedError,
    AuthenticationError,
    FaceRefusedError,
    PaymentRequiredError,
    ProviderError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    Task,
    TaskErrorInfo,
    TaskStatus,
)
from bot.providers.engines import Engine
from storage import BindingRepository, CharacterRepository, JobRepository

log = logging.getLogger(__name__)

SORA, SEEDANCE, VIDU = Engine.SORA.value, Engine.SEEDANCE.value, Engine.VIDU.value
ENGINE_ORDER = (SORA, SEEDANCE, VIDU)
LABELS = {engine.value: engine.label for engine in Engine}
STILL_ENGINES = (SEEDANCE, VIDU)  # the engines a likeness is bound to from its stills

NO_LIKENESS = "the character's likeness is no longer kept"
SORA_GONE = "no longer offered by the video service"
STALE_ASSETS = "AssetUnusableError"  # a video's error code: Seedance lost its assets
STALE_IMAGES = "ImageUnreadableError"  # a video's error code: Vidu cannot read the stills
REUPLOADING = (
    "Vidu Q3 can no longer read these characters' images, so they are being uploaded again "
    "from their kept stills: try again in a minute."
)
REBINDING = (
    "Seedance 2 no longer has these characters' images ready, so they are being made again "
    "from their kept stills: try again in a minute."
)
LIKENESS_MODEL = "likeness"  # the `model` of a binding job (it asks no model for a task)
FACE_REFUSED = "refuses real people's faces"
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


class AvatarService(Protocol):
    """The provider calls a binding makes (`bot.providers.interface.CharacterProvider`)."""

    async def upload_image(self, data: bytes, *, filename: str, mime: str) -> UploadedImage: ...
    async def create_avatar_group(self, name: str, description: str | None = None) -> str: ...
    async def create_avatar_asset(
        self, group_id: str, source_url: str, *, name: str | None = None
    ) -> AvatarAsset: ...
    async def get_avatar_asset(self, asset_id: str) -> AvatarAsset: ...


class StillSource(Protocol):
    """Where likenesses are kept (`bot.media.likeness_store.LikenessStore`)."""

    async def stills(self, key: str) -> list[bytes] | None: ...
    async def delete(self, key: str) -> None: ...


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
    return f"refused: {detail}"


class Binder:
    """Makes and follows the bindings of binding jobs."""

    def __init__(
        self,
        service: AvatarService,
        jobs: JobRepository,
        bindings: BindingRepository,
        stills: StillSource,
    ) -> None:
        self.service = service
        self.jobs = jobs
        self.bound = bindings
        self.stills = stills
        # Set by the core and the tracker: to bind a video's characters again.
        self.characters: CharacterRepository | None = None
        self.enqueue: Enqueue | None = None

    async def _save(self, job: Job, progress: Progress) -> Job:
        return await self.jobs.set_meta(job.id, {**job.meta, "binding": progress.stored()})

    async def start(self, job: Job, request: BindRequest) -> Task:
        """Upload the stills and ask for the Seedance assets (what is not done yet); the
        binding as a task: running while assets are processed, else over."""
        progress = Progress.of(job)
        wanted = [e for e in request.bind if e in STILL_ENGINES and e not in request.refused]
        if wanted and (progress.count is None or len(progress.urls) < progress.count):
            stills = await self.stills.stills(request.likeness)
            if not stills:
                progress.refused.update({engine: NO_LIKENESS for engine in wanted})
                await self._save(job, progress)
                return self.as_task(job, request, progress)
            progress.count = len(stills)
            for number, jpeg in enumerate(stills, start=1):
                if number <= len(progress.urls):
                    continue
                uploaded = await self.service.upload_image(
                    jpeg, filename=f"still-{number}.jpg", mime="image/jpeg"
                )
                progress.urls.append(str(uploaded.url))
                job = await self._save(job, progress)
        if SEEDANCE in wanted and SEEDANCE not in progress.refused:
            job = await self._ask_seedance(job, request, progress)
        return self.as_task(job, request, progress)

    async def _ask_seedance(self, job: Job, request: BindRequest, progress: Progress) -> Job:
        """The avatar group and one image asset per still (those not asked for yet)."""
        try:
            if progress.group_id is None:
                progress.group_id = await self.service.create_avatar_group(
                    request.name[:64] or "character", "Kept by Sora Character Bot"
                )
                job = await self._save(job, progress)
            for number, url in enumerate(progress.urls, start=1):
                if number <= len(progress.assets):
                    continue
                asset = await self.service.create_avatar_asset(
                    progress.group_id, url, name=f"still-{number}"
                )
                progress.assets.append(str(asset.asset_id))
                job = await self._save(job, progress)
        except NOT_NOW:
            raise
        except ProviderError as exc:
            progress.refused[SEEDANCE] = refusal_reason(exc)
            job = await self._save(job, progress)
        return job

    async def check(self, job: Job, request: BindRequest) -> Task:
        """Read the assets not active yet; the binding as a task."""
        progress = Progress.of(job)
        pending = [a for a in progress.assets if a not in progress.active]
        if SEEDANCE in progress.refused or not pending:
            return self.as_task(job, request, progress)
        changed = False
        for asset_id in pending:
            asset = await self.service.get_avatar_asset(asset_id)
            refused = asset.refusal()
            if refused is not None:
                progress.refused[SEEDANCE] = refusal_reason(refused)
                changed = True
                break
            if asset.status is AssetStatus.ACTIVE:
                progress.active.append(asset_id)
                changed = True
        if changed:
            job = await self._save(job, progress)
        return self.as_task(job, request, progress)

    def as_task(self, job: Job, request: BindRequest, progress: Progress) -> Task:
        """The binding as the tracker follows tasks."""
        task_id = job.task_id or f"likeness-{job.id}"
        ready = self.ready(request, progress)
        seedance_open = (
            SEEDANCE in request.bind
            and SEEDANCE not in progress.refused
            and SEEDANCE not in request.refused
            and SEEDANCE not in ready
        )
        if seedance_open:
            total = max(1, len(progress.urls))
            percent = int(100 * len(progress.active) / total)
            return Task(id=task_id, status=TaskStatus.IN_PROGRESS, progress=min(99, percent))
        if ready or request.character is not None:  # a character's refusals go on its card
            return Task(id=task_id, status=TaskStatus.COMPLETED, progress=100)
        reasons = {**request.refused, **progress.refused}
        return Task(
            id=task_id,
            status=TaskStatus.FAILED,
            progress=100,
            error=TaskErrorInfo(code="no_engine", message=no_engine_message(reasons)),
        )

    @staticmethod
    def ready(request: BindRequest, progress: Progress) -> list[str]:
        """The engines the likeness is bound to now."""
        ready = []
        for engine in request.bind:
            if engine in request.refused or engine in progress.refused:
                continue
            if (engine == VIDU and progress.urls) or (
                engine == SEEDANCE
                and progress.assets
                and len(progress.active) == len(progress.urls)
            ):
                ready.append(engine)
        return ready

    def bindings(self, job: Job, request: BindRequest) -> list[Binding]:
        """Every engine's binding as the finished job leaves it, in engine order."""
        progress = Progress.of(job)
        ready = set(self.ready(request, progress))
        reasons = {**request.refused, **progress.refused}
        found = []
        for engine in ENGINE_ORDER:
            if engine in ready and engine == SEEDANCE:
                data: dict[str, Any] = {"group_id": progress.group_id, "asset_ids": progress.assets}
                found.append(Binding(engine, BindingState.READY, data))
            elif engine in ready:
                found.append(Binding(engine, BindingState.READY, {}))
            elif engine in reasons:
                found.append(Binding(engine, BindingState.REFUSED, reason=reasons[engine]))
        return found

    async def finish(self, job: Job, request: BindRequest, owner: str | None) -> Job | None:
        """Store what a finished binding made: a new character (its first still as the
        avatar) or an existing character's bindings; the job COMPLETED. None when the job
        was settled meanwhile (or another process holds it)."""
        progress = Progress.of(job)
        found = tuple(self.bindings(job, request))
        if request.character is None:
            stills = await self.stills.stills(request.likeness) or []
            new = NewCharacter(
                guild_id=job.guild_id,
                character_id=f"bot-{job.id}",  # one per job: storing it twice keeps one
                task_id=job.task_id or f"likeness-{job.id}",
                display_name=request.name,
                username="",
                job_id=job.id,
                avatar=stills[0] if stills else None,
                avatar_mime="image/jpeg" if stills else None,
                creator_id=job.requester_id,
                likeness=request.likeness,
                bindings=found,
            )
            made = await self.jobs.complete(job.id, [new], owner=owner)
            if made and progress.urls:
                await self.bound.set_still_urls(made[0].id, progress.urls)
            return await self.jobs.get(job.id)
        for binding in found:
            if binding.engine != SORA:
                await self.bound.put(request.character, binding)
        if progress.urls:
            await self.bound.set_still_urls(request.character, progress.urls)
        await self.bound.keep_likeness(request.character, request.likeness)
        return await self.jobs.update_status(job.id, JobState.COMPLETED, 100, owner=owner)

    async def bind_existing(
        self,
        character: Character,
        engines: tuple[str, ...],
        enqueue: Enqueue,
        *,
        channel_id: int | None,
        requester_id: int | None,
        message_id: int | None = None,
        source: Job | None = None,
        fresh: bool = False,
    ) -> Job | None:
        """A binding job for a character whose likeness is kept (its bindings marked
        preparing by that job, so a second ask does not start another); None without a
        likeness. `message_id`: its card, changed once the job ends. The stills' uploaded
        URLs are reused unless `fresh` (the service refused what was made of them)."""
        if character.likeness is None or not engines:
            return None
        request = BindRequest(
            bind=engines,
            likeness=character.likeness,
            name=character.display_name,
            character=character.id,
        )
        new = NewJob(
            guild_id=character.guild_id,
            source_kind=source.source_kind if source else SourceKind.TASK,
            source_ref=source.source_ref if source else character.task_id,
            range_start=source.range_start if source else 0,
            range_end=source.range_end if source else 0,
            model=LIKENESS_MODEL,
            channel_id=channel_id,
            message_id=message_id,
            requester_id=requester_id,
            kind=JobKind.LIKENESS,
            meta=(
                {"binding": {"urls": list(urls), "count": len(urls)}}
                if (urls := character.still_urls) and not fresh
                else {}
            ),
        )
        job = await enqueue(new, request)
        for engine in engines:
            marked = Binding(engine, BindingState.PREPARING, {"job": job.id})
            await self.bound.put(character.id, marked)
        return job

    async def follow_up(self, job: Job, made: list[Character], enqueue: Enqueue) -> list[Job]:
        """After a Sora character's card is out: a binding job for each of its characters
        still to be bound (a binding PREPARING that no job makes yet)."""
        started = []
        for character in made:
            waiting = tuple(
                b.engine
                for b in character.bindings
                if b.state is BindingState.PREPARING and "job" not in b.data
            )
            first = character.job_id == job.id and character.announced_at is None
            binding_job = await self.bind_existing(
                character,
                waiting,
                enqueue,
                channel_id=job.channel_id,
                requester_id=job.requester_id,
                message_id=job.message_id if first else None,
                source=job,
            )
            if binding_job is not None:
                started.append(binding_job)
        return started

    async def give_up(self, job: Job) -> None:
        """A job that kept or bound a likeness ended FAILED: the bindings it was making
        say why (never "preparing" for ever), and a likeness no character keeps is
        deleted (not one a Retry sends again). A video the engine refused for its
        characters' assets has those bindings made again from the kept stills."""
        if job.state is not JobState.FAILED or job.error_code == "retried":
            return
        if job.kind is JobKind.VIDEO:
            if job.error_code == STALE_ASSETS:
                await self._bind_again(job, SEEDANCE)
            elif job.error_code == STALE_IMAGES:
                await self._bind_again(job, VIDU)
            return
        request = job.request if is_bind_request(job.request) else {}
        row = request.get("character")
        if isinstance(row, int):
            reason = f"could not be made: {job.error_message or 'refused'}"
            bindings = await self.bound.of(row)
            for engine in request.get("bind") or ():
                binding = bindings.get(str(engine))
                if binding is not None and binding.state is BindingState.PREPARING:
                    await self.bound.put(
                        row, Binding(binding.engine, BindingState.REFUSED, reason=reason)
                    )
        key = request.get("likeness") or job.meta.get("likeness")
        if isinstance(key, str) and not await self.bound.likeness_in_use(key):
            try:
                await self.stills.delete(key)
            except Exception as exc:  # the store may be unreachable; nothing else depends on it
                log.warning("job %d: kept likeness not deleted (%s)", job.id, type(exc).__name__)

    async def _bind_again(self, job: Job, engine: str) -> None:
        """The video's characters' bindings to `engine` are dropped and made again."""
        if self.characters is None or self.enqueue is None:
            return
        for character_id in job.meta.get("character_ids") or ():
            character = await self.characters.get(
                job.guild_id, str(character_id), with_avatar=False
            )
            if character is None or character.likeness is None:
                continue
            await self.bound.drop(character.id, engine)
            await self.bind_existing(
                character,
                (engine,),
                self.enqueue,
                channel_id=None,
                requester_id=job.requester_id,
                fresh=True,
            )


def no_engine_message(reasons: dict[str, str]) -> str:
    """Why no engine took a character, engine by engine."""
    parts = [f"{LABELS.get(e, e)}: {reasons[e]}" for e in ENGINE_ORDER if e in reasons]
    return "No video engine could take this character. " + "; ".join(parts) + "."
