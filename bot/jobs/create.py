"""The steps of every create, whatever the front (Discord, the command line): the fronts
only ask and render, through the small interfaces below; these steps decide.

A character: a model refused a moment ago or the limits answer early, the order is
resolved (a link's host must be public) and a member's `from_task` must have been made in
their server; then the job is stored, preparing, within every limit (that is what holds
them, and nothing is lost), its reply shows its place in line while the video is prepared,
and it goes into the submit line with what "Create from same video" needs. A refusal
drops the job and is answered privately. A video (or a Retry) needs no intake: reserve,
show, submit (`start_ready`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.domain.records import Job, JobKind, JobState, NewJob
from bot.i18n.text import Text
from bot.jobs.binding import BindRequest, EnginePlan, plan_engines
from bot.jobs.sources import prepared_request, source_meta
from bot.jobs.submission import Sendable
from bot.jobs.submit_line import Place
from bot.media.errors import MediaError
from bot.media.intake import DEFAULT_PREVIEW_LIMIT, Keeper, MediaIntake, PreparedSource
from bot.media.likeness import Likeness
from bot.media.likeness_store import LikenessStore
from bot.media.orders import CreateOrder, OrderError, plan_order, resolve
from bot.providers.base import ProviderError

if TYPE_CHECKING:
    from bot.jobs.tracker import JobTracker
    from bot.providers.interface import CharacterProvider
    from storage import JobRepository

log = logging.getLogger(__name__)

NO_OTHER_ENGINE = Text(
    "This server binds characters to Sora 2 only (see `/settings engines`): a likeness "
    "would not be used."
)
NO_SOURCE_LIKENESS = Text(
    "Sora 2 is not available, and the other engines need a video to take the character's "
    "likeness from: please give the video itself (an attachment or a link)."
)

# Where the reply that shows a job is: (channel id, message id); None if there is none.
Location = tuple[int, int] | None


class Asking(Protocol):
    """One request at a front: whose limits it spends, and how to answer it."""

    async def reserve(self, new: NewJob) -> Job | str:
        """Store the job within the asker's limits, or the refusal (nothing stored)."""
        ...

    async def refuse(self, text: str | Text, cause: Exception | None = None) -> None:
        """Answer privately that nothing will be made (`cause`: the error, if one)."""
        ...


class ReadyFront(Asking, Protocol):
    """A front whose request needs no media work (a video, a Retry)."""

    async def show_sending(self, job: Job) -> Location:
        """Show the request about to be sent; where that reply is."""
        ...


class CreateFront(Asking, Protocol):
    """A front that creates a character from a video."""

    async def limited(self) -> str | None:
        """The limits' early answer (None: go ahead); only `reserve` holds them."""
        ...

    async def started(self) -> None:
        """The request is taken: show that it is being worked on ("thinking…")."""
        ...

    async def reply_id(self) -> int | None:
        """The id of the reply that shows the job (None: unknown or none)."""
        ...

    def tell_place(self, number: int, *, waiting: bool, note: Text | None) -> None:
        """The job's place in line while its video is prepared (newest wins)."""
        ...

    async def quiet(self) -> None:
        """No more places: the reply is edited next."""
        ...

    async def show_clip(self, order: CreateOrder, prepared: PreparedSource, job: Job) -> Location:
        """Show the clip about to be sent (the reserved `job`); where that reply is."""
        ...


class _Settings(Protocol):
    @property
    def allow_private_urls(self) -> bool: ...


class CreateCore(Protocol):
    """The services the steps use (`bot.runtime.container.Core` has them)."""

    @property
    def likenesses(self) -> LikenessStore: ...

    @property
    def settings(self) -> _Settings: ...
    @property
    def provider(self) -> CharacterProvider: ...
    @property
    def tracker(self) -> JobTracker: ...
    @property
    def intake(self) -> MediaIntake: ...
    @property
    def jobs(self) -> JobRepository: ...

    async def check_task_source(self, guild_id: int, order: CreateOrder) -> None:
        """OrderError unless the order's `from_task` was made in this server."""
        ...


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a create comes from and what its job carries."""

    guild_id: int
    channel_id: int | None = None
    requester_id: int | None = None
    meta: dict[str, Any] | None = None
    preview_limit: int = DEFAULT_PREVIEW_LIMIT
    any_task: bool = False  # the owner (command line) may use any task of the account
    # The engines the server binds characters to (empty: all; None: Sora alone, nothing
    # kept), and the name a character gets where Sora does not name it.
    engines: tuple[str, ...] | None = None
    name: str = "character"
    # "Add the likeness": the character (row id) whose likeness this create keeps, bound
    # to the engines besides Sora (no Sora task).
    character: int | None = None


async def start_character(
    core: CreateCore, front: CreateFront, order: CreateOrder, origin: Origin
) -> Job | None:
    """Check, store the job, prepare the video, show the clip and put the job in the
    submit line (returned, WAITING); None when refused or cancelled meanwhile."""
    gone = core.provider.models.unavailable(order.model)
    plan = _plan(origin, sora_gone=gone is not None)
    if plan is None:
        await front.refuse(NO_OTHER_ENGINE)
        return None
    unusable = gone if not plan.sora and not plan.bind else None
    refusal = unusable.user_message if unusable is not None else await front.limited()
    if refusal is not None:  # over a limit, or a model refused a moment ago: send nothing
        await front.refuse(refusal, unusable)
        return None
    await front.started()
    try:
        order = await resolve(order, allow_private=core.settings.allow_private_urls)
        if not origin.any_task:
            await core.check_task_source(origin.guild_id, order)
    except OrderError as exc:
        await front.refuse(str(exc), exc)
        return None
    new = order.new_job(
        guild_id=origin.guild_id,
        channel_id=origin.channel_id,
        message_id=await front.reply_id(),
        requester_id=origin.requester_id,
        provider=core.provider.name,
        meta=origin.meta,
    )
    if origin.character is not None:
        new = dataclasses.replace(new, kind=JobKind.LIKENESS)
    job = await reserve(front, new)
    if job is None:
        return None
    keep = _keeper(core, job) if plan.bind else None
    prepared = await _prepare(core, front, order, job, origin.preview_limit, keep)
    if prepared is None or await _cancelled_meanwhile(core.jobs, job.id):
        return None
    if keep is not None and order.from_task is not None:
        kept = await _likeness_of_task(core, order, job, keep)
        prepared = dataclasses.replace(prepared, likeness=kept)
    meta = {**(origin.meta or {}), **source_meta(order, prepared)}
    if prepared.likeness is not None:  # bound to the other engines once Sora has named it
        meta.update(likeness=prepared.likeness, bind=list(plan.bind), name=origin.name)
    request = _request(order, prepared, plan, origin)
    if request is None:  # no Sora, and a task's result gave no likeness
        await core.tracker.abandon(job.id)
        await front.refuse(NO_SOURCE_LIKENESS)
        return None

    async def show(reserved: Job) -> Location:
        return await front.show_clip(order, prepared, reserved)

    return await send(core.tracker, job, request, meta, show)


def _plan(origin: Origin, *, sora_gone: bool) -> EnginePlan | None:
    """The engines this create binds; for "Add the likeness", those besides Sora (None:
    there are none)."""
    plan = plan_engines(origin.engines, sora_gone=sora_gone)
    if origin.character is None:
        return plan
    return EnginePlan(sora=False, bind=plan.bind, refused={}) if plan.bind else None


def _request(
    order: CreateOrder, prepared: PreparedSource, plan: EnginePlan, origin: Origin
) -> Sendable | None:
    """What the job sends: Sora's character task, or (Sora not used) the binding of its
    kept likeness; None when that is needed and no likeness was kept."""
    if plan.sora:
        return prepared_request(order, prepared)
    if prepared.likeness is None:
        return None
    return BindRequest(
        bind=plan.bind,
        likeness=prepared.likeness,
        name=origin.name,
        refused=plan.refused,
        character=origin.character,
    )


async def start_ready(
    tracker: JobTracker,
    front: ReadyFront,
    new: NewJob,
    request: Sendable,
    meta: dict[str, Any] | None = None,
) -> Job | None:
    """Store a job that needs no media work, show it and put it in the submit line
    (`meta`: what it carries then, the stored job's own if None); None when refused."""
    job = await reserve(front, new)
    if job is None:
        return None
    return await send(tracker, job, request, job.meta if meta is None else meta, front.show_sending)


async def reserve(front: Asking, new: NewJob) -> Job | None:
    """Store the job within the asker's limits, or refuse (a burst passed the early check:
    this one is over)."""
    job = await front.reserve(new)
    if isinstance(job, str):
        await front.refuse(job)
        return None
    return job


async def send(
    tracker: JobTracker,
    job: Job,
    request: Sendable,
    meta: dict[str, Any],
    show: Callable[[Job], Awaitable[Location]],
) -> Job:
    """Show the reserved job and put it in the submit line; an error on the way (the
    front refusing the reply, say) drops the job, which would else count forever."""
    async with tracker.abandoned_on_error(job.id):
        message = await show(job)
        return await tracker.submit_prepared(job, request, meta, message=message)


def _keeper(core: CreateCore, job: Job) -> Keeper:
    """Keeps the job's likeness under its own key (the character's, once made)."""

    async def keep(likeness: Likeness) -> str:
        key = likeness_key(job.guild_id, job.id)
        await core.likenesses.save(key, likeness)
        return key

    return keep


async def _likeness_of_task(
    core: CreateCore, order: CreateOrder, job: Job, keep: Keeper
) -> str | None:
    """A character made from one of this server's video tasks takes its likeness from the
    task's result while its URL lives (24 hours); None when it cannot be read."""
    assert order.from_task is not None
    video = await core.jobs.video_of_task(job.guild_id, order.from_task)
    videos = (video.result.get("videos") or []) if video is not None else []
    url = videos[0].get("url") if videos and isinstance(videos[0], dict) else None
    if not isinstance(url, str):
        return None
    try:
        result = plan_order(
            url=url,
            start=order.clip.start,
            end=order.clip.end,
            allow_private=core.settings.allow_private_urls,
        )
        result = await resolve(result, allow_private=core.settings.allow_private_urls)
        prepared = await core.intake.prepare(result, keep=keep)
    except (OrderError, MediaError, ProviderError) as exc:
        log.info("job %d: no likeness from task %s (%s)", job.id, order.from_task, exc)
        return None
    return prepared.likeness


def likeness_key(guild_id: int, job_id: int) -> str:
    """Where the likeness a job cut is kept (under its server's `guild_likenesses`)."""
    return f"{guild_likenesses(guild_id)}/j{job_id}"


def guild_likenesses(guild_id: int) -> str:
    """Where every likeness of a server is kept (deleted with the server's data)."""
    return f"g{guild_id}"


async def _prepare(
    core: CreateCore,
    front: CreateFront,
    order: CreateOrder,
    job: Job,
    preview_limit: int,
    keep: Keeper | None = None,
) -> PreparedSource | None:
    """The video prepared while the reply shows the job's place; None once refused (the
    job is dropped)."""
    places = _Places(front)
    core.tracker.line.watch(job.id, places.tell_place)  # one place across both phases
    try:
        prepared = await core.intake.prepare(
            order, preview_limit=preview_limit, watcher=places.tell, keep=keep
        )
    except (MediaError, ProviderError) as exc:
        text = exc.user_message if isinstance(exc, ProviderError) else str(exc)
        await places.stop()
        await core.tracker.abandon(job.id)
        await front.refuse(text, exc)
        return None
    except BaseException:
        await places.stop()
        await core.tracker.abandon(job.id)
        raise
    await places.stop()
    return prepared


async def _cancelled_meanwhile(jobs: JobRepository, job_id: int) -> bool:
    """The member cancelled while the video was prepared (the reply says so already)."""
    stored = await jobs.get(job_id)
    return stored is None or stored.state is not JobState.PREPARING


class _Places:
    """A job's place while its video is prepared, told to the front (newest wins).

    One number for the member: the job's place in the bot's submit line (every job ahead,
    preparing or waiting to be sent), and while it waits for a media worker at least one
    more than the jobs ahead of it there.
    """

    def __init__(self, front: CreateFront) -> None:
        self.front = front
        self.waited = False
        self.stopped = False
        self.media_ahead: int | None = None
        self.place: Place | None = None

    def tell(self, ahead: int | None) -> None:
        """The media pool's watcher: `ahead` jobs before this one, None once it is working."""
        if self.stopped or (ahead is None and not self.waited):
            return
        self.waited = True
        self.media_ahead = ahead
        self._show()

    def tell_place(self, job: object, place: Place) -> None:
        """The submit line's watcher: the job's place changed."""
        if self.stopped:
            return
        self.place = place
        self._show()

    def _show(self) -> None:
        number = self.place.number if self.place is not None else 1
        if self.media_ahead is not None:
            number = max(number, self.media_ahead + 1)
        note = self.place.note if self.place is not None else None
        self.front.tell_place(number, waiting=self.media_ahead is not None, note=note)

    async def stop(self) -> None:
        """No more places (the front edits the reply next)."""
        self.stopped = True
        await self.front.quiet()
