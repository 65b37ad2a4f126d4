"""Stored jobs: one row per character request, from submission to announcement."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.records import (
    FINAL_STATES,
    Character,
    Job,
    JobKind,
    JobState,
    NewCharacter,
    NewJob,
    SourceKind,
)
from storage.characters import characters_of_job, insert_character
from storage.database import Database, NotFoundError, Row, Session

# SQL lists of state values, built from the enums (never from user input).
_FINAL = ", ".join(f"'{state.value}'" for state in sorted(FINAL_STATES))
_POLLED = f"'{JobState.QUEUED.value}', '{JobState.IN_PROGRESS.value}'"
_IN_FLIGHT = ", ".join(
    f"'{state.value}'"
    for state in (
        JobState.PREPARING,
        JobState.SUBMITTING,
        JobState.WAITING,
        JobState.QUEUED,
        JobState.IN_PROGRESS,
    )
)

INTERRUPTED_PREPARING = (
    "The bot restarted while it was preparing your video; nothing was sent to toapis "
    "and nothing was charged. Please run the command again."
)

# Jobs the tracker still has work for (see `JobRepository.active`).
_ACTIVE = (
    f"((state IN ({_POLLED}) AND task_id IS NOT NULL) "
    f"OR state = '{JobState.WAITING.value}' "
    f"OR (state IN ({_FINAL}) AND announced_at IS NULL))"
)
# A job another process may take: nobody holds it, or its holder's lease ran out.
_TAKEABLE = "(owner IS NULL OR owner = ? OR lease_until < ?)"

# finished_at is set once, the first time the job reaches a final state.
_FINISHED_AT = "finished_at = CASE WHEN ? AND finished_at IS NULL THEN ? ELSE finished_at END"


def _to_json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _from_json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def row_to_job(row: Row) -> Job:
    """Build a Job from a ``SELECT *`` row of the jobs table."""
    return Job(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        requester_id=row["requester_id"],
        source_kind=SourceKind(row["source_kind"]),
        source_ref=row["source_ref"],
        range_start=row["range_start"],
        range_end=row["range_end"],
        model=row["model"],
        provider=row["provider"],
        request=_from_json(row["request"]),
        meta=_from_json(row["meta"]),
        task_id=row["task_id"],
        state=JobState(row["state"]),
        progress=row["progress"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
        stalled_at=row["stalled_at"],
        announced_at=row["announced_at"],
        retry_at=row["retry_at"],
        cancelled_at=row["cancelled_at"],
        kind=JobKind(row["kind"]),
        result=_from_json(row["result"]),
        owner=row["owner"],
        lease_until=row["lease_until"],
    )


async def _load(session: Session, job_id: int) -> Job:
    row = await session.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return row_to_job(row)


class JobRepository:
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
            inserted = await tx.fetchone(
                "INSERT INTO jobs (guild_id, channel_id, message_id, requester_id, source_kind, "
                "source_ref, range_start, range_end, model, provider, request, meta, state, "
                "progress, created_at, updated_at, kind, owner, lease_until) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) RETURNING id",
                (
                    new.guild_id,
                    new.channel_id,
                    new.message_id,
                    new.requester_id,
                    new.source_kind.value,
                    new.source_ref,
                    new.range_start,
                    new.range_end,
                    new.model,
                    new.provider,
                    _to_json(new.request),
                    _to_json(new.meta),
                    state.value,
                    now,
                    now,
                    new.kind.value,
                    owner,
                    now + lease_seconds if owner is not None else None,
                ),
            )
            assert inserted is not None
            return await _load(tx, int(inserted["id"]))

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

    async def set_submitted(self, job_id: int, task_id: str, state: JobState, progress: int) -> Job:
        """Record the provider's task id and first status after the create request."""
        now = time.time()
        return await self._update(
            job_id,
            f"task_id = ?, state = ?, progress = ?, submitted_at = ?, updated_at = ?, "
            f"{_FINISHED_AT}",
            (task_id, state.value, progress, now, now, state.is_final, now),
        )

    async def update_status(
        self,
        job_id: int,
        state: JobState,
        progress: int,
        *,
        error_code: str | None = None,
        error_message: str | None = None,
        retry_at: float | None = None,
    ) -> Job:
        """Record the latest status (errors and retry time as given: None clears them)."""
        now = time.time()
        return await self._update(
            job_id,
            f"state = ?, progress = ?, error_code = ?, error_message = ?, retry_at = ?, "
            f"updated_at = ?, {_FINISHED_AT}",
            (state.value, progress, error_code, error_message, retry_at, now, state.is_final, now),
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
                    _to_json(request),
                    _to_json(meta),
                    now,
                    message[0] if message else None,
                    message[1] if message else None,
                    job_id,
                    JobState.PREPARING.value,
                ),
            )
            if outcome.rowcount == 0:
                return None
            return await _load(tx, job_id)

    async def claim_waiting(self, job_id: int) -> Job | None:
        """WAITING -> SUBMITTING just before its create request leaves; None if the job was
        not waiting (so two callers never send it twice)."""
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                (JobState.SUBMITTING.value, time.time(), job_id, JobState.WAITING.value),
            )
            if outcome.rowcount == 0:
                return None
            return await _load(tx, job_id)

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

    async def mark_interrupted_submissions(
        self, *, owner: str | None = None, now: float | None = None
    ) -> list[Job]:
        """Turn every job left in SUBMITTING (e.g. by a crash) into UNKNOWN; return them.

        Jobs left PREPARING sent nothing: they fail with INTERRUPTED_PREPARING (to be
        announced), and are not returned. With `owner`, only jobs nobody holds or whose
        holder (another process) let its lease run out: a live process is still at work.
        """
        now = time.time() if now is None else now
        orphaned = ""
        extra: tuple[Any, ...] = ()
        if owner is not None:
            orphaned = " AND (owner IS NULL OR (owner <> ? AND lease_until < ?))"
            extra = (owner, now)
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE jobs SET state = ?, error_code = 'interrupted', error_message = ?, "  # noqa: S608
                f"updated_at = ?, finished_at = COALESCE(finished_at, ?) WHERE state = ?{orphaned}",
                (
                    JobState.FAILED.value,
                    INTERRUPTED_PREPARING,
                    now,
                    now,
                    JobState.PREPARING.value,
                    *extra,
                ),
            )
            rows = await tx.fetchall(
                f"SELECT id FROM jobs WHERE state = ?{orphaned} ORDER BY id",  # noqa: S608
                (JobState.SUBMITTING.value, *extra),
            )
            ids = [int(row["id"]) for row in rows]
            jobs: list[Job] = []
            for job_id in ids:
                await tx.execute(
                    "UPDATE jobs SET state = ?, error_message = ?, updated_at = ?, "
                    "finished_at = COALESCE(finished_at, ?) WHERE id = ?",
                    (JobState.UNKNOWN.value, "interrupted while submitting", now, now, job_id),
                )
                jobs.append(await _load(tx, job_id))
            return jobs

    async def claim_unknown(self, job_id: int, note: str) -> bool:
        """Atomically move an UNKNOWN job to FAILED with `note`; True for the one caller
        that did it (so a Retry pressed twice sends one request, not two)."""
        now = time.time()
        outcome = await self._db.execute(
            "UPDATE jobs SET state = ?, error_code = 'retried', error_message = ?, "
            "updated_at = ? WHERE id = ? AND state = ?",
            (JobState.FAILED.value, note, now, job_id, JobState.UNKNOWN.value),
        )
        return outcome.rowcount == 1

    async def active(self) -> list[Job]:
        """Jobs the tracker still has work for, oldest first.

        Those queued or in progress at the provider (with a task id), those waiting to
        send their create request again (never accepted, so safe to send), and those in a
        final state whose outcome has not been announced yet.
        """
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs WHERE {_ACTIVE} ORDER BY id"  # noqa: S608 (constant SQL)
        )
        return [row_to_job(row) for row in rows]

    # --- leases: which process follows which job ------------------------------------------

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
        now = time.time()
        await self.mark_interrupted_submissions(owner=owner, now=now)
        lock = " FOR UPDATE SKIP LOCKED" if self.shared else ""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "UPDATE jobs SET owner = ?, lease_until = ? WHERE id IN ("  # noqa: S608
                f"SELECT id FROM jobs WHERE {_ACTIVE} AND {_TAKEABLE} ORDER BY id{lock}"
                ") RETURNING *",
                (owner, now + seconds, owner, now),
            )
        return sorted((row_to_job(row) for row in rows), key=lambda job: job.id)

    async def take(self, job_id: int, owner: str, seconds: float) -> bool:
        """Hold one job (a new one, or one about to be followed) unless another process
        holds a live lease on it; True if `owner` holds it now."""
        now = time.time()
        outcome = await self._db.execute(
            f"UPDATE jobs SET owner = ?, lease_until = ? WHERE id = ? AND {_TAKEABLE}",  # noqa: S608
            (owner, now + seconds, job_id, owner, now),
        )
        return outcome.rowcount == 1

    async def renew(self, owner: str, seconds: float) -> set[int]:
        """Extend every lease `owner` still holds on a job with work left (not announced
        yet); returns the ids of every job it holds (a job missing from it was taken over:
        its owner must stop following it). An announced job not released yet is held, not
        extended: its owner is about to release it."""
        async with self._db.transaction() as tx:
            rows = await tx.fetchall(
                "UPDATE jobs SET lease_until = CASE WHEN announced_at IS NULL THEN ? "
                "ELSE lease_until END WHERE owner = ? RETURNING id",
                (time.time() + seconds, owner),
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

    async def cancel_unsent(self, job_id: int, message: str) -> Job | None:
        """A job not sent yet (preparing, or waiting to be sent) ends FAILED "cancelled";
        None if it was sent meanwhile (or is over)."""
        now = time.time()
        async with self._db.transaction() as tx:
            outcome = await tx.execute(
                "UPDATE jobs SET state = ?, error_code = 'cancelled', error_message = ?, "
                "updated_at = ?, finished_at = COALESCE(finished_at, ?) "
                "WHERE id = ? AND task_id IS NULL AND state IN (?, ?)",
                (
                    JobState.FAILED.value,
                    message,
                    now,
                    now,
                    job_id,
                    JobState.PREPARING.value,
                    JobState.WAITING.value,
                ),
            )
            if outcome.rowcount == 0:
                return None
            return await _load(tx, job_id)

    async def mark_cancelled(self, job_id: int) -> Job:
        """A sent job the member no longer wants to hear about (the result is still kept)."""
        now = time.time()
        return await self._update(
            job_id, "cancelled_at = COALESCE(cancelled_at, ?), updated_at = ?", (now, now)
        )

    async def in_flight(
        self,
        guild_id: int | None = None,
        requester_id: int | None = None,
        *,
        limit: int = -1,
    ) -> list[Job]:
        """Jobs preparing, waiting to be sent or running at the provider and not
        cancelled, oldest first: every server's, a server's, or one member's there."""
        where = "cancelled_at IS NULL AND state IN (" + _IN_FLIGHT + ")"
        params: tuple[Any, ...] = ()
        if guild_id is not None:
            where += " AND guild_id = ?"
            params += (guild_id,)
        if requester_id is not None:
            where += " AND requester_id = ?"
            params += (requester_id,)
        if limit >= 0:
            where += " ORDER BY id LIMIT ?"
            params += (limit,)
        else:
            where += " ORDER BY id"
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs WHERE {where}",  # noqa: S608 (constant SQL)
            params,
        )
        return [row_to_job(row) for row in rows]

    async def count_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state (all servers)."""
        rows = await self._db.fetchall("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {JobState(row["state"]): int(row["n"]) for row in rows}

    async def count_unannounced(self) -> int:
        """Finished jobs whose outcome was not shown yet."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs "  # noqa: S608 (constant SQL)
            f"WHERE state IN ({_FINAL}) AND announced_at IS NULL"
        )
        return int(row["n"]) if row is not None else 0

    async def by_task(self, task_id: str) -> Job | None:
        """The job that follows this provider task, if any."""
        row = await self._db.fetchone(
            "SELECT * FROM jobs WHERE task_id = ? ORDER BY id DESC LIMIT 1", (task_id,)
        )
        return row_to_job(row) if row is not None else None

    async def count_unaccepted(self, guild_id: int, requester_id: int | None = None) -> int:
        """Jobs in flight that the provider has not accepted yet (no task id): a server's,
        or one member's there."""
        where = f"guild_id = ? AND task_id IS NULL AND state IN ({_IN_FLIGHT})"
        params: tuple[Any, ...] = (guild_id,)
        if requester_id is not None:
            where += " AND requester_id = ?"
            params += (requester_id,)
        row = await self._db.fetchone(
            f"SELECT COUNT(*) AS n FROM jobs WHERE {where}",  # noqa: S608 (constant SQL)
            params,
        )
        return int(row["n"]) if row is not None else 0

    async def count_in_flight(self, guild_id: int, requester_id: int) -> int:
        """A member's jobs preparing, waiting to be sent, or running at the provider."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND requester_id = ? "  # noqa: S608
            f"AND state IN ({_IN_FLIGHT})",
            (guild_id, requester_id),
        )
        return int(row["n"]) if row is not None else 0

    async def count_accepted_since(
        self, guild_id: int | None, since: float, requester_id: int | None = None
    ) -> int:
        """Jobs the provider accepted (a task id came back) since `since`, failed ones
        included: every server's (`guild_id` None), a server's, or one member's."""
        if guild_id is None:
            row = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM jobs WHERE submitted_at >= ? AND task_id IS NOT NULL",
                (since,),
            )
        elif requester_id is None:
            row = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND submitted_at >= ? "
                "AND task_id IS NOT NULL",
                (guild_id, since),
            )
        else:
            row = await self._db.fetchone(
                "SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND requester_id = ? "
                "AND submitted_at >= ? AND task_id IS NOT NULL",
                (guild_id, requester_id, since),
            )
        return int(row["n"]) if row is not None else 0

    async def list_for_guild(self, guild_id: int, *, limit: int = 25, offset: int = 0) -> list[Job]:
        """One page of a guild's jobs, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must not be negative (got {limit}, {offset})")
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE guild_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (guild_id, limit, offset),
        )
        return [row_to_job(row) for row in rows]

    async def complete_video(self, job_id: int, result: dict[str, Any]) -> Job:
        """Store what a finished video job made and mark it COMPLETED."""
        now = time.time()
        return await self._update(
            job_id,
            "state = ?, progress = 100, result = ?, error_code = NULL, error_message = NULL, "
            "updated_at = ?, finished_at = COALESCE(finished_at, ?)",
            (JobState.COMPLETED.value, _to_json(result), now, now),
        )

    async def count_videos_since(self, guild_id: int, requester_id: int, since: float) -> int:
        """A member's video jobs toapis accepted since `since` (failed ones included)."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND requester_id = ? "
            "AND kind = ? AND submitted_at >= ? AND task_id IS NOT NULL",
            (guild_id, requester_id, JobKind.VIDEO.value, since),
        )
        return int(row["n"]) if row is not None else 0

    async def complete(self, job_id: int, characters: list[NewCharacter]) -> list[Character]:
        """Store a finished job's characters and mark it COMPLETED, in one transaction.

        A character the guild already has is kept as it is, so calling this twice
        stores each character once. Characters without a creator are credited to the
        job's requester. Returns every character of the job, oldest first, with avatars.
        """
        now = time.time()
        async with self._db.transaction() as tx:
            job = await _load(tx, job_id)
            for new in characters:
                if new.guild_id != job.guild_id:
                    raise ValueError(
                        f"character {new.character_id} belongs to guild {new.guild_id}, "
                        f"but job {job_id} to guild {job.guild_id}"
                    )
                creator = new.creator_id if new.creator_id is not None else job.requester_id
                await insert_character(tx, new, job_id=job_id, creator_id=creator, now=now)
            await tx.execute(
                "UPDATE jobs SET state = ?, progress = 100, error_code = NULL, "
                "error_message = NULL, updated_at = ?, finished_at = COALESCE(finished_at, ?) "
                "WHERE id = ?",
                (JobState.COMPLETED.value, now, now, job_id),
            )
            return await characters_of_job(tx, job_id)
