"""Spending limits as one step with the job they allow: count and write in one transaction.

A limit checked in one statement and a job written in another lets a burst of requests
pass together (each counts before any is written). `reserve` counts and writes under one
write lock: SQLite's (`BEGIN IMMEDIATE`), and on PostgreSQL a transaction-scoped advisory
lock per server (plus one over every server while the owner's daily cap is set), so no
number of processes and interactions can pass a limit together. Mixed into
`storage.jobs.JobRepository`.
"""

from __future__ import annotations

import time

from bot.domain.records import Job, JobKind, JobState, LimitHit, NewJob, Quota, Usage
from storage.database import Database, Session
from storage.job_rows import IN_FLIGHT_SQL, claim_unknown_in, insert_job, load_job

# A job counts against a day from its reservation until it ends unsent (deleted, cancelled
# or refused), or for the day toapis accepted it (failed ones included).
# Binding a character's likeness to more engines is the bot's own follow-up, never counted.
_COUNTED = f"kind <> '{JobKind.LIKENESS.value}'"
_UNSENT = f"task_id IS NULL AND state IN ({IN_FLIGHT_SQL}) AND {_COUNTED}"
_SENT_SINCE = f"task_id IS NOT NULL AND submitted_at >= ? AND {_COUNTED}"

_GUILD_USAGE = (
    "SELECT "  # noqa: S608 (constant SQL)
    f"(SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ? "
    f"AND state IN ({IN_FLIGHT_SQL}) AND {_COUNTED}) AS at_once, "
    f"(SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ? AND {_UNSENT}) "
    f"+ (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ? AND {_SENT_SINCE}) "
    "AS member_day, "
    f"(SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND {_UNSENT}) "
    f"+ (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND {_SENT_SINCE}) AS server_day, "
    f"(SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ? AND kind = ? "
    f"AND {_UNSENT}) "
    f"+ (SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND requester_id = ? AND kind = ? "
    f"AND {_SENT_SINCE}) AS videos_day"
)
# One statement, so that a job accepted meanwhile is counted once (PostgreSQL takes one
# snapshot per statement).
_GLOBAL_USAGE = (
    f"SELECT (SELECT COUNT(*) FROM jobs WHERE {_UNSENT} AND id < ?) "  # noqa: S608
    f"+ (SELECT COUNT(*) FROM jobs WHERE {_SENT_SINCE}) AS n"
)
_EVERY_JOB = 2**62  # `id < ?` that every job passes


async def usage_in(
    session: Session | Database, guild_id: int, member_id: int, quota: Quota
) -> Usage:
    """What counts against `quota` now for one member of a server (and every server when
    the quota has a global cap)."""
    since = quota.since
    video = JobKind.VIDEO.value
    row = await session.fetchone(
        _GUILD_USAGE,
        (
            *(guild_id, member_id),
            *(guild_id, member_id, guild_id, member_id, since),
            *(guild_id, guild_id, since),
            *(guild_id, member_id, video, guild_id, member_id, video, since),
        ),
    )
    assert row is not None
    everyone = 0
    if quota.global_day is not None:
        everyone = await global_usage(session, since)
    return Usage(
        at_once=int(row["at_once"]),
        member_day=int(row["member_day"]),
        server_day=int(row["server_day"]),
        global_day=everyone,
        videos_day=int(row["videos_day"]),
    )


async def global_usage(session: Session | Database, since: float, before: int = _EVERY_JOB) -> int:
    """Jobs of every server that count today: accepted since `since`, or not sent yet
    (only those reserved before job `before`, when given)."""
    row = await session.fetchone(_GLOBAL_USAGE, (before, since))
    return int(row["n"]) if row is not None else 0


class JobQuota:
    """Counting against limits, and reserving a job within them."""

    _db: Database

    async def usage(self, guild_id: int, member_id: int, quota: Quota) -> Usage:
        """What counts against `quota` now (a check that reserves nothing)."""
        return await usage_in(self._db, guild_id, member_id, quota)

    async def usage_before(self, job_id: int, since: float) -> int:
        """Jobs that count against the owner's cap today, leaving out job `job_id` and
        those reserved after it (its turn in line has come)."""
        return await global_usage(self._db, since, before=job_id)

    async def reserve(
        self,
        new: NewJob,
        quota: Quota | None,
        *,
        state: JobState = JobState.PREPARING,
        owner: str | None = None,
        lease_seconds: float = 0.0,
        replaces: tuple[int, str] | None = None,
    ) -> Job | LimitHit:
        """Write `new` if one more job stays within `quota`, in the same transaction as
        the count; else the limit it would pass, and nothing is written.

        `replaces` is (job id, note) of an UNKNOWN job this one sends again (Retry): it
        ends FAILED with the note in the same step, or, when it is not UNKNOWN any more,
        nothing is written and the hit is of kind "replaced". No `quota`: no limits (the
        owner, at the command line), nothing counted.
        """
        if state not in (JobState.PREPARING, JobState.WAITING):
            raise ValueError(f"a reserved job starts preparing or waiting, not {state.value}")
        if quota is None and (replaces is not None or new.requester_id is not None):
            raise ValueError("a member's job (and a Retry) is reserved within their limits")
        if quota is not None and new.requester_id is None:
            raise ValueError("a reserved job needs the member who asked for it")
        async with self._db.transaction() as tx:
            now = time.time()
            if quota is not None:
                hit = await self._over(tx, new, quota, replaces, now)
                if hit is not None:
                    return hit
            job_id = await insert_job(
                tx,
                new,
                state,
                dialect=self._db.dialect,
                owner=owner,
                lease_seconds=lease_seconds,
                now=now,
            )
            return await load_job(tx, job_id)

    async def _over(
        self,
        tx: Session,
        new: NewJob,
        quota: Quota,
        replaces: tuple[int, str] | None,
        now: float,
    ) -> LimitHit | None:
        """The limit one more job would pass (counted under the reservation locks), or
        "replaced" when the job a Retry replaces is not unknown any more; None: go on."""
        assert new.requester_id is not None
        if self._db.dialect == "postgresql":
            # Lock order: every server's first, so two reservations never wait on
            # each other in opposite orders.
            if quota.global_day is not None:
                await _lock(tx, "reserve:*")
            await _lock(tx, f"reserve:{new.guild_id}")
        hit = (await usage_in(tx, new.guild_id, new.requester_id, quota)).first_over(quota)
        if hit is not None:
            return hit
        if replaces is not None and not await claim_unknown_in(tx, *replaces, now=now):
            return LimitHit("replaced", 0, 0)
        return None


async def _lock(tx: Session, name: str) -> None:
    """A PostgreSQL advisory lock held until the transaction ends (per schema)."""
    await tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext(?))", (name,)
    )
