"""How long the bot keeps data: servers it left, finished jobs, members who ask to be
forgotten (no discord here: the lifecycle cog feeds it gateway events)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from storage import RetentionRepository

log = logging.getLogger(__name__)

DAY = 86_400.0
WEBHOOK_EVENT_DAYS = 30.0  # handled events are kept this long (a late delivery: duplicate)
# Jobs made from the command line without --guild live here: never a real server.
UNATTACHED_GUILD = 0


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What one purge deleted."""

    guilds: list[int] = field(default_factory=list)
    characters: int = 0
    jobs: int = 0  # the purged guilds' jobs
    old_jobs: int = 0  # finished jobs past the retention period
    webhook_events: int = 0  # webhook events handled over `WEBHOOK_EVENT_DAYS` ago


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What forgetting a member in a guild changed."""

    jobs: int  # jobs kept as anonymous rows (usage still counts them)
    characters: int  # characters deleted, or kept without a creator
    characters_deleted: bool


class DataLifecycle:
    """Marks guilds left and back, purges them after `guild_days`, prunes finished jobs
    after `job_days` and handled webhook events after 30 days, and forgets members.
    `clock` is replaceable (tests)."""

    def __init__(
        self,
        repository: RetentionRepository,
        *,
        guild_days: float,
        job_days: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repository = repository
        self.guild_days = guild_days
        self.job_days = job_days
        self.clock = clock
        # Called with each purged guild's id (its kept likenesses are deleted there).
        self.on_purged: Callable[[int], Awaitable[None]] | None = None

    async def joined(self, guild_ids: Iterable[int]) -> list[int]:
        """The bot is in these guilds; those it came back to in time (nothing purged)."""
        back = await self.repository.mark_present(guild_ids)
        for guild_id in back:
            log.info("back in guild %d: its data is kept", guild_id)
        return back

    async def left(self, guild_id: int) -> None:
        """The bot was removed from a guild: its data goes after the retention period."""
        if await self.repository.mark_left([guild_id], self.clock()):
            log.info("left guild %d: its data is purged in %g days", guild_id, self.guild_days)

    async def reconcile(self, present: Iterable[int]) -> list[int]:
        """At start (READY): guilds we hold data for that are not listed were left while
        the bot was offline; mark them. Returns them."""
        here = set(present)
        await self.joined(here)
        known = await self.repository.known_guilds()
        gone = sorted(known - here - {UNATTACHED_GUILD})
        newly = await self.repository.mark_left(gone, self.clock())
        for guild_id in newly:
            log.info(
                "removed from guild %d while offline: purged in %g days", guild_id, self.guild_days
            )
        return newly

    async def purge(self) -> PurgeResult:
        """Delete guilds left longer than the retention period, old finished jobs and old
        handled webhook events."""
        now = self.clock()
        cutoff = now - self.guild_days * DAY
        purged: list[int] = []
        characters = jobs = 0
        for guild_id in await self.repository.left_before(cutoff):
            counts = await self.repository.purge_guild(guild_id, cutoff)
            if counts is None:
                continue  # came back meanwhile
            purged.append(guild_id)
            if self.on_purged is not None:
                try:
                    await self.on_purged(guild_id)
                except Exception as exc:  # the rows are gone; files are retried never
                    log.warning("guild %d: kept likenesses not deleted (%s)", guild_id, exc)
            characters += counts[0]
            jobs += counts[1]
            log.info(
                "purged guild %d (left over %g days ago): %d character(s), %d job(s)",
                guild_id,
                self.guild_days,
                *counts,
            )
        old = await self.repository.prune_jobs(now - self.job_days * DAY)
        if old:
            log.info("pruned %d job(s) finished over %g days ago", old, self.job_days)
        events = await self.repository.prune_webhook_events(now - WEBHOOK_EVENT_DAYS * DAY)
        if events:
            log.info("pruned %d webhook event(s) handled over 30 days ago", events)
        return PurgeResult(purged, characters, jobs, old, events)

    async def footprint(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """(jobs, characters) of a member in a guild."""
        return await self.repository.member_footprint(guild_id, user_id)

    async def forget(self, guild_id: int, user_id: int, *, delete_characters: bool) -> Forgotten:
        """Remove the member's user id from this guild's data (see the repository)."""
        jobs, characters = await self.repository.forget_member(
            guild_id, user_id, delete_characters=delete_characters
        )
        log.info(
            "forgot a member in guild %d: %d job(s), %d character(s)", guild_id, jobs, characters
        )
        return Forgotten(jobs, characters, delete_characters)
