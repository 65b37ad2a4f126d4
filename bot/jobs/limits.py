"""Who may spend the toapis account, and how much: checked before any media work or API call.

Every entry point (the slash command, the context menu, the reaction flow, Retry, "Create
from same video") asks `SpendingLimits.check` first. A refusal is private and says which
limit and when the member can try again. "At once" counts jobs preparing, waiting in line
and running; the daily counts count jobs toapis accepted (a task id came back), failed ones
included, per UTC day.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.guild_settings import GuildSettings, SettingsService
from bot.owner import OwnerControls
from storage import JobRepository


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a member may not start a job now. `kind` is channel, role, at_once, member_day
    or server_day; `message` is what the member reads (channels and roles are added by
    the front, which knows how to mention them)."""

    kind: str
    message: str
    channels: tuple[int, ...] = ()
    role_id: int | None = None


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


def wait_words(seconds: float) -> str:
    """`5 h 12 min`, `12 min`, `40 s`."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"


class SpendingLimits:
    """Checks a member against the server's settings and today's usage."""

    def __init__(
        self,
        settings: SettingsService,
        jobs: JobRepository,
        owner: OwnerControls,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.jobs = jobs
        self.owner = owner
        self._clock = clock

    async def check(self, asker: Asker) -> Refusal | None:
        """None when the member may start one more job now, else why not."""
        refusal = await self._owner_says(asker)
        if refusal is not None:
            return refusal
        config = await self.settings.get(asker.guild_id)
        refusal = self._where_and_who(config, asker)
        if refusal is not None:
            return refusal
        running = await self.jobs.count_in_flight(asker.guild_id, asker.member_id)
        if running >= config.jobs_at_once:
            jobs = "job" if running == 1 else "jobs"
            return Refusal(
                "at_once",
                f"You have {running} {jobs} running or waiting; this server allows "
                f"{config.jobs_at_once} at once. Wait for one to finish.",
            )
        now = self._clock()
        since = utc_day_start(now)
        again = wait_words(next_utc_midnight(now) - now)
        # Jobs not accepted yet count too, or a burst could pass the daily limit before
        # any of it is accepted (those refused later stop counting once they end).
        pending_mine = await self.jobs.count_unaccepted(asker.guild_id, asker.member_id)
        mine = pending_mine + await self.jobs.count_accepted_since(
            asker.guild_id, since, asker.member_id
        )
        if mine >= config.jobs_per_day:
            return Refusal(
                "member_day",
                f"You have used your {config.jobs_per_day} jobs for today (UTC): "
                f"try again in {again}.",
            )
        everyone = await self.jobs.count_unaccepted(
            asker.guild_id
        ) + await self.jobs.count_accepted_since(asker.guild_id, since)
        if everyone >= config.server_jobs_per_day:
            return Refusal(
                "server_day",
                f"This server has used its {config.server_jobs_per_day} jobs for today "
                f"(UTC): try again in {again}.",
            )
        return None

    async def _owner_says(self, asker: Asker) -> Refusal | None:
        """The bot owner's pause, blocks and global daily cap come first."""
        owner = await self.owner.get()
        if asker.guild_id in owner.blocked_guilds:
            return Refusal("blocked", "The bot owner has turned this bot off for this server.")
        if asker.member_id in owner.blocked_users:
            return Refusal("blocked", "The bot owner has blocked you from creating characters.")
        if owner.paused is not None:
            return Refusal("paused", f"New jobs are paused by the bot owner: {owner.paused}")
        if owner.daily_cap is not None:
            now = self._clock()
            used = await self.jobs.count_accepted_since(None, utc_day_start(now))
            if used >= owner.daily_cap:
                again = wait_words(next_utc_midnight(now) - now)
                return Refusal(
                    "global_day",
                    f"The bot has used all its jobs for today (UTC): try again in {again}.",
                )
        return None

    @staticmethod
    def _where_and_who(config: GuildSettings, asker: Asker) -> Refusal | None:
        if asker.is_admin:
            return None
        if not config.allows_channel(asker.channel_id, asker.parent_id):
            return Refusal(
                "channel", "I only take jobs in some channels of this server.", config.channels
            )
        role = config.creator_role
        if role is not None and role != asker.guild_id and role not in asker.role_ids:
            return Refusal(
                "role", "Creating characters here needs a role you don't have.", role_id=role
            )
        return None
