"""Creating a character from a terminal: print its progress and card, follow it to its
end, and give up on a request toapis never accepts (the CLI's `create` and the demo)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TextIO

from bot.domain.ranges import format_seconds
from bot.domain.records import BindingState, Character, Job, JobState, NewJob
from bot.i18n.text import Text
from bot.jobs.binding import LABELS, is_bind_request
from bot.jobs.character_engines import engine_lines, server_engines
from bot.jobs.create import Location, Origin, start_character
from bot.jobs.events import NullListener
from bot.jobs.tracker import JobTracker
from bot.media.intake import PreparedSource
from bot.media.orders import CreateOrder, OrderError
from bot.runtime.container import Core
from bot.stopping import cancel_and_wait

BAR_CELLS = 20
DEFAULT_GIVE_UP = 60.0
CLI_GUILD = 0  # jobs created from the command line live in guild 0 unless told otherwise
# toapis refused the account itself: only the owner can fix it, so a terminal stops at once.
ACCOUNT_REFUSED = {
    "AuthenticationError": "toapis refused the API key (401): check TOAPIS_API_KEY",
    "PaymentRequiredError": (
        "the toapis account has no credit left (402): top it up, then try again"
    ),
}


class PrintingListener(NullListener):
    """Prints what happens to the jobs, one line per visible change (no places)."""

    def __init__(self, out: TextIO, *, placeholder_avatars: bool = False) -> None:
        self.out = out
        self.placeholder_avatars = placeholder_avatars  # Sora's avatars: the simulator's
        self.started = time.monotonic()
        self.characters: list[Character] = []
        self.videos: list[Job] = []
        self.refusal: str | None = None  # the account was refused (ACCOUNT_REFUSED)
        self.refused = asyncio.Event()

    def _line(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:5.1f}s] {text}", file=self.out, flush=True)

    async def job_changed(self, job: Job) -> None:
        """Print state and progress (and why, while the request waits to be accepted)."""
        if job.state is JobState.WAITING and job.error_code in ACCOUNT_REFUSED:
            self.refusal = ACCOUNT_REFUSED[job.error_code or ""]
            self.refused.set()  # `follow` ends the command with it
            return
        if job.state is JobState.WAITING:
            reason = (job.error_message or "toapis is busy").rstrip(".")
            self._line(f"not sent yet: {reason}; retrying")
            return
        words = job.state.value.replace("_", " ")
        filled = round(job.progress / 100 * BAR_CELLS)
        bar = "#" * filled + "." * (BAR_CELLS - filled)
        if is_bind_request(job.request):  # no task at toapis: its stills and assets
            engines = ", ".join(LABELS.get(e, e) for e in job.request.get("bind") or ())
            self._line(f"[{bar}] {job.progress:3d}%  {words}  (binding to {engines})")
            return
        self._line(f"[{bar}] {job.progress:3d}%  {words}  (task {job.task_id})")

    async def job_stalled(self, job: Job) -> None:
        """Say it is still running."""
        self._line("still running at toapis; it will be picked up when it finishes")

    async def character_ready(self, job: Job, character: Character) -> None:
        """Print the character."""
        self.characters.append(character)
        self._line(f"character ready: {character.display_name}")
        card = format_character(character, placeholder_avatar=self.placeholder_avatars)
        print(card, file=self.out, flush=True)

    async def character_bound(self, job: Job, character: Character) -> None:
        """Print the engines the character works with now."""
        first, *refused = engine_lines(character)
        self._line(f"{character.display_name} now works with: {first}")
        for line in refused:
            print(f"  {line}", file=self.out, flush=True)

    async def video_ready(self, job: Job) -> None:
        """Print where the video is (its URLs live 24 hours)."""
        self.videos.append(job)
        for video in job.result.get("videos") or []:
            self._line(f"video ready: {video.get('url')}")

    async def job_failed(self, job: Job) -> None:
        """Print why it failed."""
        self._line(f"failed: {job.error_message}")

    async def job_unknown(self, job: Job) -> None:
        """Print the uncertain state."""
        self._line(f"unknown: {job.error_message}")


def format_character(character: Character, *, placeholder_avatar: bool = False) -> str:
    """A few aligned lines describing a stored character (its bindings loaded);
    `placeholder_avatar`: Sora's avatar is the simulator's picture, not a real one."""
    created = datetime.fromtimestamp(character.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    avatar = f"{len(character.avatar)} bytes" if character.avatar else "not stored"
    if character.avatar and not character.username and character.likeness:
        avatar += " (a still of the clip)"
    elif character.avatar and placeholder_avatar:
        avatar += " (the simulator's placeholder picture; toapis sends Sora's own)"
    first, *refused = engine_lines(character)
    lines = [f"  name:         {character.display_name}"]
    if character.username:
        lines.append(f"  use in text:  @{character.username}")
    lines.append(f"  engines:      {first}")
    lines += [f"                {line}" for line in refused]
    lines += [
        f"  character id: {character.character_id}",
        f"  task id:      {character.task_id}",
        f"  created:      {created}",
        f"  avatar:       {avatar}",
    ]
    return "\n".join(lines)


def character_row(character: Character) -> str:
    """One line of a list: name, engines (bindings loaded), id."""
    engines = "; ".join(engine_lines(character))
    return f"- {character.display_name}  {engines}  ({character.character_id})"


async def cli_origin(core: Core, guild: int, name: str | None = None) -> Origin:
    """What a create from the terminal carries: the engines the server's characters are
    bound to (CHARACTER_ENGINES, narrowed by `/settings engines`), and the name a
    character gets where Sora does not name it (`name`, else "character N")."""
    chosen = await core.guild_settings.get(guild)
    if name is None:
        made = await core.characters.count_for_guild(guild)
        name = f"character {made + 1}"
    return Origin(
        guild_id=guild,
        any_task=True,
        engines=server_engines(core.settings.engine_list, chosen.engines),
        name=name[:80],
    )


class TerminalFront:
    """The create steps (`bot.jobs.create`) at a terminal, run by the owner: no member
    limits, any task of the account, and a refusal raised as the error it came from."""

    def __init__(self, tracker: JobTracker, out: TextIO) -> None:
        self.tracker = tracker
        self.out = out

    async def limited(self) -> str | None:
        """The owner is not bound by the servers' limits."""
        return None

    async def reserve(self, new: NewJob) -> Job | str:
        """Store the job, preparing, without member limits."""
        job = await self.tracker.reserve(new, None)
        if isinstance(job, Job):
            return job
        return f"over the {job.kind} limit ({job.used} of {job.limit})"

    async def refuse(self, text: str | Text, cause: Exception | None = None) -> None:
        """Raise the error (the command prints it and picks the exit code)."""
        raise cause if cause is not None else OrderError(text)

    async def started(self) -> None:
        """Nothing to show yet."""

    async def reply_id(self) -> int | None:
        """No reply message at a terminal."""
        return None

    def tell_place(self, number: int, *, waiting: bool, note: Text | None) -> None:
        """Places are not printed."""

    async def quiet(self) -> None:
        """Nothing to stop."""

    async def show_clip(self, order: CreateOrder, prepared: PreparedSource, job: Job) -> Location:
        """Print what is sent."""
        if prepared.uploaded:
            print(
                f"cut the moment and uploaded it; toapis reads "
                f"{format_seconds(prepared.start)}-{format_seconds(prepared.end)} s of it",
                file=self.out,
                flush=True,
            )
        print(
            f"submitting {order.reference} {format_seconds(order.clip.start)}-"
            f"{format_seconds(order.clip.end)} s with {order.model}",
            file=self.out,
            flush=True,
        )
        return None


async def submit_and_follow(
    core: Core,
    order: CreateOrder,
    origin: Origin,
    listener: PrintingListener,
    out: TextIO,
    *,
    give_up: float = DEFAULT_GIVE_UP,
) -> int:
    """Resolve, prepare and submit `order`, then follow it (and the binding to the other
    engines that follows a Sora card) to its end (0: a character).

    A request toapis has not accepted after `give_up` seconds (unreachable, busy) is
    abandoned: the job is stored as failed, nothing was sent or charged.
    """
    if origin.engines:
        labels = ", ".join(LABELS.get(e, e) for e in origin.engines)
        print(f"engines to bind it to: {labels}", file=out, flush=True)
    keeping = asyncio.create_task(_keep_leases(core.tracker), name="cli-leases")
    try:
        job = await start_character(core, TerminalFront(core.tracker, out), order, origin)
        if job is None:
            print(
                "error: the job ended while its video was prepared (cancelled, or ended "
                "by another process on this database); nothing was sent",
                file=out,
            )
            return 1
        final = await follow(core, job, give_up, listener=listener)
        if final is not None and final.state is JobState.COMPLETED:
            await _follow_bindings(core, final, give_up, out)
    finally:
        await cancel_and_wait(keeping)
    if final is not None and final.error_code == GAVE_UP:
        print(f"error: {final.error_message}", file=out, flush=True)
        return 1
    return 0 if final is not None and listener.characters else 1


async def _follow_bindings(core: Core, job: Job, give_up: float, out: TextIO) -> None:
    """Follow the binding jobs a Sora character's card started (its other engines) to
    their end; one not sent within `give_up` is left to the bot's next start."""
    made = await core.characters.with_bindings(await core.characters.for_job(job.id))
    waiting = {
        int(binding.data["job"])
        for character in made
        for binding in character.bindings
        if binding.state is BindingState.PREPARING and "job" in binding.data
    }
    for job_id in sorted(waiting):
        binding_job = await core.jobs.get(job_id)
        if binding_job is None:
            continue
        stored = await follow(core, binding_job, give_up, abandon=False)
        if stored is not None and stored.state is JobState.WAITING:
            print(
                f"the binding to the other engines was not sent within {give_up:g} s; "
                "it is sent when the bot next starts",
                file=out,
                flush=True,
            )
            return


GAVE_UP = "not_accepted"


async def _keep_leases(tracker: JobTracker) -> None:
    """Renew the command's lease on its job every third of a lease (a terminal runs no
    lease loop), so a bot on the same database never takes over a job still followed
    here, however long the video takes to prepare."""
    while True:
        await asyncio.sleep(tracker.timings.lease / 3)
        await tracker.renew_leases()


async def follow(
    core: Core,
    job: Job,
    give_up: float,
    *,
    abandon: bool = True,
    listener: PrintingListener | None = None,
) -> Job | None:
    """Wait for the job; give up once it was not accepted within `give_up` seconds, or at
    once when toapis refused the account (heard by `listener`), and, with `abandon`, end
    it as failed: else it stays in line for the bot's next start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up
    following = asyncio.ensure_future(core.tracker.wait(job.id))
    refused = asyncio.ensure_future(listener.refused.wait()) if listener is not None else None
    wait = max(0.0, deadline - loop.time())
    try:
        while True:
            watched = [following] if refused is None else [following, refused]
            done, _ = await asyncio.wait(watched, timeout=wait, return_when="FIRST_COMPLETED")
            if following in done:
                return following.result()
            if refused in done:
                refused = None  # heard once; from now on the job's state decides
            stored = await core.jobs.get(job.id)
            if stored is None or stored.task_id is not None or stored.state.is_final:
                return await following  # accepted: follow it to its end, however long
            if stored.state is JobState.WAITING:
                break  # between attempts: nothing in flight, safe to stop here
            wait = 0.5  # a create request is in flight: its answer decides
    finally:
        if refused is not None:
            refused.cancel()
    await core.tracker.stop()
    following.cancel()
    stored = await core.jobs.get(job.id)
    if stored is None or stored.state is not JobState.WAITING or not abandon:
        return stored  # accepted at the last moment (or kept): it resumes on the next start
    reason = (stored.error_message or "toapis could not be reached").rstrip(".")
    message = (
        f"gave up after {give_up:g} s: {reason}. Nothing was sent or charged; try again later."
    )
    if listener is not None and listener.refusal is not None:
        message = f"{listener.refusal}. Nothing was sent or charged."
    failed = await core.jobs.update_status(
        job.id,
        JobState.FAILED,
        0,
        error_code=GAVE_UP,
        error=message,
        leaving=(JobState.WAITING,),
    )
    if failed is None:  # no longer waiting: as it is now
        return await core.jobs.get(job.id)
    await core.jobs.mark_announced(job.id)
    return failed
