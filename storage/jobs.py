"""Stored jobs: one row per character request, from submission to announcement."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from bot.domain.records import (
    Character,
    Job,
    JobState,
    NewCharacter,
    NewJob,
)
from bot.i18n.text import Text
from storage.characters import characters_of_job, insert_character
from storage.database import Database, NotFoundError
from storage.job_counts import JobCounts
from storage.job_leases import JobLeases
from storage.job_quota import JobQuota
from storage.job_rows import (
    FINISHED_AT_SQL,
    IN_FLIGHT_SQL,
    IN_FLIGHT_STATES,
    INTERRUPTED_PREPARING,
    claim_unknown_in,
    error_sql,
    failed_sql,
    insert_job,
    load_job,
    row_to_job,
    to_json,
)

__all__ = ["INTERRUPTED_PREPARING", "JobRepository", "row_to_job"]


class JobRepository(JobLeases, JobCounts, JobQuota):
    """Creates jobs and records what happens to them."""

    def __init__(self, db: Database) -> None:
        """Use ``db`` for every query."""
        self._db = db

    async def create(
        self,
        new: NewJob,
        *,
        state: JobState = JobState.SUBMITTING,
        owner: str | None = None,
        lease_seconds: float = 0.0,
    ) -> Job:
        """Write a new job (SUBMITTING, or PREPARING while its video is made ready) before
        anything is sent to the provider; `owner` holds it for `lease_seconds`."""
        if state not in (JobState.PREPARING, JobState.SUBMITTING, JobState.WAITING):
            raise ValueError(f"a new job starts preparing or waiting, not {state.value}")
        now = time.time()
        async with self._db.transaction() as tx:
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

    async def get(self, job_id: int) -> Job | None:
        """The job with this id, or None."""
        row = await self._db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return row_to_job(row) if row is not None else None

    async def _update(self, job_id: int, assignments: str, params: tuple[Any, ...]) -> Job:
        """Apply ``SET assignments`` to one job and return it; NotFoundError if missing.

        One statement (``RETURNING``): every poll that changes a job costs one round trip.
        """
        rows = await self._db.fetchall(
            f"UPDATE jobs SET {assignments} WHERE id = ? RETURNING *",  # noqa: S608 (constant SQL)
            (*params, job_id),
        )
        if not rows:
            raise NotFoundError(f"job {job_id} does not exist")
        return row_to_job(rows[0])

    async def _change(
        self,
        job_id: int,
        assignments: str,
        params: tuple[Any, ...],
        leaving: Collection[JobState],
        owner: str | None,
    ) -> Job | None:
        """Apply ``SET assignments`` to one job in one of the states `leaving` (and, with
        `owner`, held by it); the job as changed, or None when it was in another state or
        held by another process (the caller re-reads it and acts on what is there).
        NotFoundError if it does not exist."""
        guard = f" AND state IN ({', '.join('?' for _ in leaving)})"
        extra: tuple[Any, ...] = tuple(state.value for state in leaving)
        if owner is not None:
            guard += " AND owner = ?"
            extra += (owner,)
        rows = await self._db.fetchall(
            f"UPDATE jobs SET {assignments} WHERE id = ?{guard} RETURNING *",  # noqa: S608 (constant SQL)
            (*params, job_id, *extra),
        )
        if rows:
            return row_to_job(rows[0])
        if await self.get(job_id) is None:
            raise NotFoundError(f"job {job_id} does not exist")
        return None

    async def set_submitted(
        self, job_id: int, task_id: str, state: JobState, progress: int, *, owner: str | None = None
    ) -> Job | None:
        """Record the provider's task id and first status after the create request: a job
        still SUBMITTING (held by `owner`, if given); None if it is not (see `_change`)."""
        now = time.time()
        return await self._change(
            job_id,
            f"task_id = ?, state = ?, progress = ?, submitted_at = ?, updated_at = ?, "
            f"{FINISHED_AT_SQL}",
            (task_id, state.value, progress, now, now, state.is_final, now),
            (JobState.SUBMITTING,),
            owner,
        )

    async def set_request(self, job_id: int, request: dict[str, Any]) -> Job:
        """Replace what the job sends (a character job binding its likeness instead)."""
        return await self._update(
            job_id, "request = ?, updated_at = ?", (to_json(request), time.time())
        )

    async def set_meta(self, job_id: int, meta: dict[str, Any]) -> Job:
        """Replace what the job keeps (e.g. how far binding its likeness has come), written
        before the next step so a crash never repeats a step that was done."""
        return await self._update(job_id, "meta = ?, updated_at = ?", (to_json(meta), time.time()))

    async def update_status(
        self,
        job_id: int,
        state: JobState,
        progress: int,
        *,
        error_code: str | None = None,
        error: Text | str | None = None,
        retry_at: float | None = None,
        leaving: Collection[JobState] = IN_FLIGHT_STATES,
        owner: str | None = None,
    ) -> Job | None:
        """Record the latest status (error and retry time as given: None clears them) of a
        job in one of the states `leaving` (by default any in flight: a final state is
        never left) held by `owner`, if given; None if it is not (see `_change`).
        `error` is kept as `error_sql` says, in the same statement."""
        now = time.time()
        error_set, error_params = error_sql(self._db.dialect, error)
        return await self._change(
            job_id,
            f"state = ?, progress = ?, error_code = ?, retry_at = ?, "
            f"updated_at = ?, {FINISHED_AT_SQL}, {error_set}",
            (
                state.value,
                progress,
                error_code,
                retry_at,
                now,
                state.is_final,
                now,
                *error_params,
            ),
            leaving,
            owner,
        )

    async def set_prepared(
        self,
        job_id: int,
        request: dict[str, Any],
        meta: dict[str, Any],
        message: tuple[int, int] | None = None,
    ) -> Job | None:
        """PREPARING -> WAITING (in the submit line) with what will be sent (and the reply
        showing it, as (channel id, message id)); None if the job was not preparing."""
        now = time.time()
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                "UPDATE jobs SET state = ?, request = ?, meta = ?, updated_at = ?, "
                "channel_id = COALESCE(?, channel_id), message_id = COALESCE(?, message_id) "
                "WHERE id = ? AND state = ?",
                (
                    JobState.WAITING.value,
                    to_json(request),
                    to_json(meta),
                    now,
                    message[0] if message else None,
                    message[1] if message else None,
                    job_id,
                    JobState.PREPARING.value,
                ),
            )
            if outcome.rowcount == 0:
                return None
            return await load_job(tx, job_id)

    async def claim_waiting(self, job_id: int, *, owner: str | None = None) -> Job | None:
        """WAITING -> SUBMITTING just before its create request leaves; None if the job was
        not waiting, or (with `owner`) is held by another process: never sent twice."""
        held, extra = (" AND owner = ?", (owner,)) if owner is not None else ("", ())
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                f"UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state = ?{held}",  # noqa: S608
                (JobState.SUBMITTING.value, time.time(), job_id, JobState.WAITING.value, *extra),
            )
            if outcome.rowcount == 0:
                return None
            return await load_job(tx, job_id)

    async def discard_preparing(self, job_id: int) -> bool:
        """Delete a job still PREPARING (its video was refused: nothing was sent, and the
        member was told); True if it was deleted."""
        outcome = await self._db.execute(
            "DELETE FROM jobs WHERE id = ? AND state = ?", (job_id, JobState.PREPARING.value)
        )
        return outcome.rowcount == 1

    async def set_message(self, job_id: int, channel_id: int | None, message_id: int | None) -> Job:
        """Remember which message shows this job's progress."""
        return await self._update(
            job_id,
            "channel_id = ?, message_id = ?, updated_at = ?",
            (channel_id, message_id, time.time()),
        )

    async def mark_stalled(self, job_id: int) -> Job:
        """Record when the job was first seen stuck (later calls keep the first time)."""
        now = time.time()
        return await self._update(
            job_id,
            "stalled_at = COALESCE(stalled_at, ?), updated_at = ?",
            (now, now),
        )

    async def mark_announced(self, job_id: int) -> Job:
        """Record that the job's outcome was announced (later calls keep the first time)."""
        now = time.time()
        return await self._update(
            job_id,
            "announced_at = COALESCE(announced_at, ?), updated_at = ?",
            (now, now),
        )

    async def claim_unknown(self, job_id: int, note: str) -> bool:
        """Atomically move an UNKNOWN job to FAILED with `note`; True for the one caller
        that did it (so a Retry pressed twice sends one request, not two)."""
        async with self._db.transaction() as tx:
            return await claim_unknown_in(tx, job_id, note, now=time.time())

    async def resume_unknown(
        self, job_id: int, *, task_id: str | None = None, state: JobState = JobState.WAITING
    ) -> Job | None:
        """An UNKNOWN job whose fate is known after all: WAITING to be sent again (no
        `task_id`), or following the task found; None if it is no longer UNKNOWN."""
        if task_id is None:
            state = JobState.WAITING
        now = time.time()
        submitted = "submitted_at = COALESCE(submitted_at, ?), " if task_id else ""
        extra: tuple[Any, ...] = (now,) if task_id else ()
        return await self._change(
            job_id,
            f"task_id = COALESCE(?, task_id), state = ?, {submitted}error_code = NULL, "
            "error_message = NULL, finished_at = NULL, retry_at = NULL, updated_at = ?",
            (task_id, state.value, *extra, now),
            (JobState.UNKNOWN,),
            None,
        )

    async def cancel_unsent(
        self, job_id: int, error: Text | str, *, code: str = "cancelled"
    ) -> Job | None:
        """A job not sent yet (preparing, or waiting to be sent) ends FAILED with `code`
        ("cancelled", or the limit it was refused at) and `error` (kept as in
        `update_status`), and stops counting against any limit; None if it was sent
        meanwhile (or is over)."""
        failed, failed_params = failed_sql(self._db.dialect, code, error, time.time())
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                f"UPDATE jobs SET {failed} "  # noqa: S608 (failed_sql: fixed fragments)
                "WHERE id = ? AND task_id IS NULL AND state IN (?, ?)",
                (*failed_params, job_id, JobState.PREPARING.value, JobState.WAITING.value),
            )
            if outcome.rowcount == 0:
                return None
            return await load_job(tx, job_id)

    async def mark_cancelled(self, job_id: int) -> Job:
        """A sent job the member no longer wants to hear about (the result is still kept)."""
        now = time.time()
        return await self._update(
            job_id, "cancelled_at = COALESCE(cancelled_at, ?), updated_at = ?", (now, now)
        )

    async def complete_video(
        self, job_id: int, result: dict[str, Any], *, owner: str | None = None
    ) -> Job | None:
        """Store what a finished video job made and mark it COMPLETED, if it is in flight
        (and held by `owner`, if given); None if it is not (see `_change`)."""
        now = time.time()
        return await self._change(
            job_id,
            "state = ?, progress = 100, result = ?, error_code = NULL, error_message = NULL, "
            "updated_at = ?, finished_at = COALESCE(finished_at, ?)",
            (JobState.COMPLETED.value, to_json(result), now, now),
            IN_FLIGHT_STATES,
            owner,
        )

    async def complete(
        self, job_id: int, characters: list[NewCharacter], *, owner: str | None = None
    ) -> list[Character]:
        """Store a finished job's characters and mark it COMPLETED, in one transaction.

        Only a job in flight (held by `owner`, if given) is completed: a job in a final
        state (completed already, failed, unknown) is left as it is and nothing is stored.
        A character the guild already has is kept as it is. Characters without a creator
        are credited to the job's requester. Returns every character of the job, oldest
        first, with avatars.
        """
        now = time.time()
        held, extra = (" AND owner = ?", (owner,)) if owner is not None else ("", ())
        async with self._db.transaction() as tx:
            job = await load_job(tx, job_id)
            for new in characters:
                if new.guild_id != job.guild_id:
                    raise ValueError(
                        f"character {new.character_id} belongs to guild {new.guild_id}, "
                        f"but job {job_id} to guild {job.guild_id}"
                    )
            outcome = await tx.execute(
                "UPDATE jobs SET state = ?, progress = 100, error_code = NULL, "  # noqa: S608
                "error_message = NULL, updated_at = ?, finished_at = COALESCE(finished_at, ?) "
                f"WHERE id = ? AND state IN ({IN_FLIGHT_SQL}){held}",
                (JobState.COMPLETED.value, now, now, job_id, *extra),
            )
            if outcome.rowcount == 1:
                for new in characters:
                    creator = new.creator_id if new.creator_id is not None else job.requester_id
                    await insert_character(tx, new, job_id=job_id, creator_id=creator, now=now)
            return await characters_of_job(tx, job_id)
