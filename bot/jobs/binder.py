"""Making and following bindings: the `Binder` sends a binding job's calls (uploads, the
avatar group, one asset per still), reads its assets until each is active or refused, and
stores what came of it: a new character, or an existing one's bindings. What a binding is
and how far one came: `bot.jobs.binding`.
"""

from __future__ import annotations

import logging
from typing import Any

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
from bot.jobs.binding import (
    ENGINE_ORDER,
    LIKENESS_MODEL,
    NO_LIKENESS,
    NOT_NOW,
    SEEDANCE,
    SORA,
    STALE_ASSETS,
    STALE_IMAGES,
    STILL_ENGINES,
    VIDU,
    BindRequest,
    Enqueue,
    Progress,
    is_bind_request,
    no_engine_message,
    refusal_reason,
)
from bot.media.likeness_store import LikenessStore
from bot.providers.avatars import AssetStatus
from bot.providers.base import ProviderError, Task, TaskErrorInfo, TaskStatus
from bot.providers.interface import CharacterProvider
from storage import BindingRepository, CharacterRepository, JobRepository

log = logging.getLogger(__name__)


class Binder:
    """Makes and follows the bindings of binding jobs."""

    def __init__(
        self,
        service: CharacterProvider,
        jobs: JobRepository,
        bindings: BindingRepository,
        stills: LikenessStore,
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
            meta={
                **(
                    {"binding": {"urls": list(urls), "count": len(urls)}}
                    if (urls := character.still_urls) and not fresh
                    else {}
                ),
                **_language_of(source),
            },
        )
        job = await enqueue(new, request)
        for engine in engines:
            marked = Binding(engine, BindingState.PREPARING, {"job": job.id})
            await self.bound.put(character.id, marked)
        return job

    async def follow_up(self, job: Job, made: list[Character], enqueue: Enqueue) -> list[Job]:
        """After a Sora job's cards are out (`made`: every character of the job): a binding
        job for each character still to be bound (a binding PREPARING that no job makes
        yet), so announcing again after a crash starts only what was not started. The
        first card replaced the job's reply: its binding edits that message once done."""
        started = []
        own = [c.id for c in made if c.job_id == job.id]
        first_id = min(own) if own else None
        for character in made:
            waiting = tuple(
                b.engine
                for b in character.bindings
                if b.state is BindingState.PREPARING and "job" not in b.data
            )
            first = character.id == first_id
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


def _language_of(source: Job | None) -> dict[str, Any]:
    """The language the source job's messages speak, kept for the card this job edits."""
    if source is None:
        return {}
    return {key: source.meta[key] for key in ("locale", "guild_locale") if key in source.meta}
