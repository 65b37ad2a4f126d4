"""Which process follows which job: leases on the jobs table (PostgreSQL: several
processes; SQLite: one, which owns every job). Mixed into `storage.jobs.JobRepository`.

Leases are set and compared on the database's clock (`now_sql`), never a host's own: a
host whose clock runs ahead would otherwise take over jobs whose holder is alive."""

from __future__ import annotations

import time
from typing import Any

from bot.domain.records import Job, JobState
from bot.i18n.text import Text
from storage.database import Database
from storage.job_rows import (
    ACTIVE_SQL,
    INTERRUPTED_PREPARING,
    REFETCHABLE_SQL,
    TAKEABLE_SQL,
    failed_sql,
    load_job,
    now_sql,
    row_to_job,
)


class JobLeases:
    """Claiming, renewing and releasing jobs, and settling those a process left behind."""

    _db: Database

    async def mark_interrupted_submissions(
        self, *, owner: str | None = None, now: float | None = None
    ) -> list[Job]:
        """Turn every job left in SUBMITTING (e.g. by a crash) into UNKNOWN; return them.

        Jobs left PREPARING sent nothing: they fail with INTERRUPTED_PREPARING (to be
        announced), and are not returned. With `owner`, only jobs nobody holds or whose
        holder (another process) let its lease run out (by the database clock): a live
        process is still at work. `now` is the time recorded as the jobs' update.
        """
        now = time.time() if now is None else now
        orphaned = ""
        extra: tuple[Any, ...] = ()
        if owner is not None:
            orphaned = f" AND (owner IS NULL OR (owner <> ? AND lease_until < {self._now}))"
            extra = (owner,)
        # Kept also as its msgid (`meta.error_text`) for the member's language.
        failed, failed_params = failed_sql(
            self._db.dialect, "interrupted", Text(INTERRUPTED_PREPARING), now
        )
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE jobs SET {failed} WHERE state = ?{orphaned}",  # noqa: S608
                (*failed_params, JobState.PREPARING.value, *extra),
            )
            # One statement: a create answer stored meanwhile (the job left SUBMITTING)
            # is never overwritten.
            rows = await tx.fetchall(
                "UPDATE jobs SET state = ?, error_message = ?, updated_at = ?, "  # noqa: S608
                "finished_at = COALESCE(finished_at, ?) "
                f"WHERE state = ?{orphaned} RETURNING *",
                (
                    JobState.UNKNOWN.value,
                    "interrupted while submitting",
                    now,
                    now,
                    JobState.SUBMITTING.value,
                    *extra,
                ),
            )
            return sorted((row_to_job(row) for row in rows), key=lambda job: job.id)

    async def adopt_preparing(self, owner: str, seconds: float) -> list[Job]:
        """Take every job left preparing by a process that is gone (nobody holds it, or
        its holder's lease ran out) whose source can be fetched again, for `seconds`; the
        caller prepares them again. Run before `claim`, which fails the others."""
        lock = " FOR UPDATE SKIP LOCKED" if self.shared else ""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                f"UPDATE jobs SET owner = ?, lease_until = {self._now} + ?, updated_at = ? "  # noqa: S608
                f"WHERE id IN (SELECT id FROM jobs WHERE state = ? AND {REFETCHABLE_SQL} AND "
                f"(owner IS NULL OR (owner <> ? AND lease_until < {self._now})) ORDER BY id{lock}"
                ") RETURNING *",
                (owner, seconds, time.time(), JobState.PREPARING.value, owner),
            )
        return sorted((row_to_job(row) for row in rows), key=lambda job: job.id)

    async def fail_preparing(self, job_id: int, error: Text | str) -> Job | None:
        """A job still preparing ends FAILED with `error` (nothing was sent; kept as in
        `JobRepository.update_status`), to be announced; None if it was not preparing any
        more."""
        failed, failed_params = failed_sql(self._db.dialect, "interrupted", error, time.time())
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                f"UPDATE jobs SET {failed} WHERE id = ? AND state = ?",  # noqa: S608
                (*failed_params, job_id, JobState.PREPARING.value),
            )
            if outcome.rowcount == 0:
                return None
            return await load_job(tx, job_id)

    async def active(self) -> list[Job]:
        """Jobs the tracker still has work for, oldest first.

        Those queued or in progress at the provider (with a task id), those waiting to
        send their create request again (never accepted, so safe to send), and those in a
        final state whose outcome has not been announced yet.
        """
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs WHERE {ACTIVE_SQL} ORDER BY id"  # noqa: S608 (constant SQL)
        )
        return [row_to_job(row) for row in rows]

    @property
    def _now(self) -> str:
        """The database clock, as SQL: every lease is set and compared on it."""
        return now_sql(self._db.dialect)

    @property
    def shared(self) -> bool:
        """Several processes may use this database at once (PostgreSQL): leases matter.
        A SQLite file has one bot process at a time, which owns every job."""
        return self._db.dialect != "sqlite"

    async def claim(self, owner: str, seconds: float) -> list[Job]:
        """Take every job with work left that nobody else holds a live lease on, for
        `seconds` from now, and return the jobs `owner` now holds with work left, oldest
        first. Jobs another live process is taking are skipped (``SKIP LOCKED``).

        Jobs left preparing or submitting by a process whose lease ran out are settled
        first (see `mark_interrupted_submissions`): the new owner announces them.
        """
        await self.mark_interrupted_submissions(owner=owner)
        lock = " FOR UPDATE SKIP LOCKED" if self.shared else ""
        takeable = TAKEABLE_SQL.format(now=self._now)
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                f"UPDATE jobs SET owner = ?, lease_until = {self._now} + ? WHERE id IN ("  # noqa: S608
                f"SELECT id FROM jobs WHERE {ACTIVE_SQL} AND {takeable} ORDER BY id{lock}"
                ") RETURNING *",
                (owner, seconds, owner),
            )
        return sorted((row_to_job(row) for row in rows), key=lambda job: job.id)

    async def take(self, job_id: int, owner: str, seconds: float) -> bool:
        """Hold one job (a new one, or one about to be followed) unless another process
        holds a live lease on it; True if `owner` holds it now."""
        takeable = TAKEABLE_SQL.format(now=self._now)
        outcome = await self._db.execute(
            f"UPDATE jobs SET owner = ?, lease_until = {self._now} + ? "  # noqa: S608
            f"WHERE id = ? AND {takeable}",
            (owner, seconds, job_id, owner),
        )
        return outcome.rowcount == 1

    async def renew(self, owner: str, seconds: float) -> set[int]:
        """Extend every lease `owner` still holds on a job with work left (not announced
        yet); returns the ids of every job it holds (a job missing from it was taken over:
        its owner must stop following it). An announced job not released yet is held, not
        extended: its owner is about to release it."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                f"UPDATE jobs SET lease_until = CASE WHEN announced_at IS NULL "  # noqa: S608
                f"THEN {self._now} + ? ELSE lease_until END WHERE owner = ? RETURNING id",
                (seconds, owner),
            )
        return {int(row["id"]) for row in rows}

    async def release(self, owner: str, job_id: int | None = None) -> int:
        """Give up `owner`'s lease on one job (or on all of them); returns how many."""
        if job_id is None:
            outcome = await self._db.execute(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner = ?", (owner,)
            )
        else:
            outcome = await self._db.execute(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?",
                (job_id, owner),
            )
        return outcome.rowcount

    async def forget_owners(self) -> None:
        """Clear every lease (a SQLite file: the one process using it owns every job)."""
        await self._db.execute(
            "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL"
        )
