"""Who may spend the toapis account, and how much: checked before any media work or API call.

Every entry point (the slash command, the context menu, the reaction flow, Retry, "Create
from same video", videos) asks `SpendingLimits.check` first, for an early answer, and
stores its job with `SpendingLimits.reserve`, which counts and writes in one step, so that
no burst passes a limit. A refusal is private and says which limit and when the member
can try again. "At once" counts jobs preparing, waiting in line and running; the daily
counts (member, server, the owner's cap over every server, videos) count jobs toapis
accepted (a task id came back), failed ones included, per UTC day, plus jobs not sent
yet. The owner's cap is checked again when a job reaches the front of the line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain.records import Job, JobKind, LimitHit, NewJob, Quota
from bot.i18n import N_
from bot.i18n.text import Text
from bot.policy.guild_settings import GuildSettings, SettingsService
from bot.policy.owner_controls import OwnerControls, OwnerState
from storage import JobRepository

if TYPE_CHECKING:
    from bot.jobs.tracker import JobTracker


# Refusals that are fixed sentences.
SERVER_BLOCKED = N_("The bot owner has turned this bot off for this server.")
MEMBER_BLOCKED = N_("The bot owner has blocked you from creating characters.")
ALREADY_SENT = N_("It was already sent again.")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a member may not start a job now. `kind` is channel, role, at_once, member_day
    or server_day; `text` is what the member reads (channels and roles are added by
    the front, which knows how to mention them)."""

    kind: str
    text: Text
    channels: tuple[int, ...] = ()
    role_id: int | None = None

    @property
    def message(self) -> str:
        """The refusal in English (logs, the command line, a job's stored error)."""
        return str(self.text)


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asks, and where."""

    guild_id: int
    member_id: int
    role_ids: Collection[int] = ()
    channel_id: int | None = None
    parent_id: int | None = None  # the channel a thread belongs to
    is_admin: bool = False  # Manage Server: not bound by the creator role or channels


def next_utc_midnight(now: float) -> float:
    """When the current UTC day ends."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp()


def utc_day_start(now: float) -> float:
    """When the current UTC day began."""
    return next_utc_midnight(now) - 86400


def wait_words(seconds: float) -> Text:
    """`5 h 12 min`, `12 min`, `40 s`."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return Text("{hours} h {minutes} min", hours=hours, minutes=minutes)
    if minutes:
        return Text("{minutes} min", minutes=minutes)
    return Text("{seconds} s", seconds=seconds)


class SpendingLimits:
    """Checks a member against the server's settings and today's usage, and reserves a
    job within them in one step (`reserve`), so that a burst cannot pass a limit."""

    def __init__(
        self,
        settings: SettingsService,
        jobs: JobRepository,
        owner: OwnerControls,
        tracker: JobTracker | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.owner = owner
        self.tracker = tracker
        self._clock = clock
        if tracker is not None:
            tracker.admit_with(self.at_front)

    async def check(self, asker: Asker, *, video: bool = False) -> Refusal | None:
        """None when the member may start one more job now, else why not. An early
        answer (before a form or any work); only `reserve` holds the limits."""
        quota = await self.quota(asker, video=video)
        if isinstance(quota, Refusal):
            return quota
        hit = (await self.jobs.usage(asker.guild_id, asker.member_id, quota)).first_over(quota)
        return self.explain(hit) if hit is not None else None

    async def reserve(
        self,
        asker: Asker,
        new: NewJob,
        *,
        replaces: tuple[int, str] | None = None,
    ) -> Job | Refusal:
        """Store `new` for this member if every limit allows one more job, counted and
        written in one step; else why not (nothing stored). See `JobTracker.reserve`."""
        assert self.tracker is not None, "reserving needs the tracker"
        quota = await self.quota(asker, video=new.kind is JobKind.VIDEO)
        if isinstance(quota, Refusal):
            return quota
        job = await self.tracker.reserve(new, quota, replaces=replaces)
        return self.explain(job) if isinstance(job, LimitHit) else job

    async def quota(self, asker: Asker, *, video: bool = False) -> Quota | Refusal:
        """Today's limits for this member here, or why they may not ask at all."""
        owner = await self.owner.get()
        refusal = self._owner_says(owner, asker)
        if refusal is not None:
            return refusal
        config = await self.settings.get(asker.guild_id)
        refusal = self._where_and_who(config, asker)
        if refusal is not None:
            return refusal
        return Quota(
            since=utc_day_start(self._clock()),
            at_once=config.jobs_at_once,
            member_day=config.jobs_per_day,
            server_day=config.server_jobs_per_day,
            global_day=owner.daily_cap,
            videos_day=config.videos_per_day if video else None,
        )

    async def at_front(self, job: Job) -> Text | None:
        """Asked when a job's turn comes: None to send it, else why it may not be sent
        (the owner's cap, counting what was accepted today and reserved before it)."""
        cap = (await self.owner.get()).daily_cap
        if cap is None or job.kind is JobKind.LIKENESS:  # binding a likeness spends no job
            return None
        if await self.jobs.usage_before(job.id, utc_day_start(self._clock())) < cap:
            return None
        return Text(
            "The bot has used all its jobs for today (UTC), so this one was not sent "
            "and nothing was charged."
        )

    def explain(self, hit: LimitHit) -> Refusal:
        """What the member reads about a limit their job would pass."""
        now = self._clock()
        again = wait_words(next_utc_midnight(now) - now)
        if hit.kind == "at_once":
            return Refusal(
                "at_once",
                Text(
                    "You have {used} job running or waiting; this server allows {limit} at "
                    "once. Wait for one to finish.",
                    used=hit.used,
                    limit=hit.limit,
                )
                if hit.used == 1
                else Text(
                    "You have {used} jobs running or waiting; this server allows {limit} at "
                    "once. Wait for one to finish.",
                    used=hit.used,
                    limit=hit.limit,
                ),
            )
        if hit.kind == "member_day":
            return Refusal(
                "member_day",
                Text(
                    "You have used your {limit} jobs for today (UTC): try again in {again}.",
                    limit=hit.limit,
                    again=again,
                ),
            )
        if hit.kind == "server_day":
            return Refusal(
                "server_day",
                Text(
                    "This server has used its {limit} jobs for today (UTC): try again in {again}.",
                    limit=hit.limit,
                    again=again,
                ),
            )
        if hit.kind == "videos_day":
            return Refusal(
                "videos_day",
                Text(
                    "You have made {used} videos today, this server's limit per member. "
                    "Try again after midnight UTC.",
                    used=hit.used,
                ),
            )
        if hit.kind == "replaced":
            return Refusal("replaced", Text(ALREADY_SENT))
        return Refusal(
            "global_day",
            Text(
                "The bot has used all its jobs for today (UTC): try again in {again}.",
                again=again,
            ),
        )

    @staticmethod
    def _owner_says(owner: OwnerState, asker: Asker) -> Refusal | None:
        """The bot owner's pause and blocks come first."""
        if asker.guild_id in owner.blocked_guilds:
            return Refusal("blocked", Text(SERVER_BLOCKED))
        if asker.member_id in owner.blocked_users:
            return Refusal("blocked", Text(MEMBER_BLOCKED))
        if owner.paused is not None:
            return Refusal(
                "paused",
                Text("New jobs are paused by the bot owner: {reason}", reason=owner.paused),
            )
        return None

    @staticmethod
    def _where_and_who(config: GuildSettings, asker: Asker) -> Refusal | None:
        if asker.is_admin:
            return None
        if not config.allows_channel(asker.channel_id, asker.parent_id):
            return Refusal(
                "channel",
                Text("I only take jobs in some channels of this server."),
                config.channels,
            )
        role = config.creator_role
        if role is not None and role != asker.guild_id and role not in asker.role_ids:
            return Refusal(
                "role", Text("Creating characters here needs a role you don't have."), role_id=role
            )
        return None
