"""The jobs table's rows: SQL fragments built from the state enums, and rows to `Job`s.

Shared by `storage.jobs` (the repository) and its parts (`job_leases`, `job_counts`).
"""

from __future__ import annotations

import json
from typing import Any

from bot.domain.records import FINAL_STATES, Job, JobKind, JobState, NewJob, SourceKind
from bot.i18n.text import Text
from storage.database import NotFoundError, Row, Session

# SQL lists of state values, built from the enums (never from user input).
FINAL_SQL = ", ".join(f"'{state.value}'" for state in sorted(FINAL_STATES))
POLLED_SQL = f"'{JobState.QUEUED.value}', '{JobState.IN_PROGRESS.value}'"

INTERRUPTED_PREPARING = (
    "The bot restarted while it was preparing your video; nothing was sent to toapis "
    "and nothing was charged. Please run the command again."
)
# A job left preparing whose source can be fetched again from what is stored (a link, a
# page or an earlier task; a Discord attachment's signed link is not kept): prepared again.
REFETCHABLE_SQL = (
    f"kind = '{JobKind.CHARACTER.value}' AND source_kind IN "
    f"('{SourceKind.URL.value}', '{SourceKind.PAGE.value}', '{SourceKind.TASK.value}')"
)

# States a job may leave for another by default: in flight, never a final state.
IN_FLIGHT_STATES = (
    JobState.PREPARING,
    JobState.SUBMITTING,
    JobState.WAITING,
    JobState.QUEUED,
    JobState.IN_PROGRESS,
)
IN_FLIGHT_SQL = ", ".join(f"'{state.value}'" for state in IN_FLIGHT_STATES)

# Jobs the tracker still has work for (see `JobRepository.active`).
ACTIVE_SQL = (
    f"((state IN ({POLLED_SQL}) AND task_id IS NOT NULL) "
    f"OR state = '{JobState.WAITING.value}' "
    f"OR (state IN ({FINAL_SQL}) AND announced_at IS NULL))"
)
# A job another process may take: nobody holds it, or its holder's lease ran out ({now}:
# `now_sql`, the database clock).
TAKEABLE_SQL = "(owner IS NULL OR owner = ? OR lease_until < {now})"

# finished_at is set once, the first time the job reaches a final state.
FINISHED_AT_SQL = "finished_at = CASE WHEN ? AND finished_at IS NULL THEN ? ELSE finished_at END"


def now_sql(dialect: str) -> str:
    """The database's clock in epoch seconds, as SQL. Leases are set and compared on it
    alone, as the budget ledger counts its windows: processes on hosts whose clocks
    disagree agree on when a lease runs out."""
    if dialect == "sqlite":
        return "((julianday('now') - 2440587.5) * 86400.0)"
    return "(extract(epoch FROM statement_timestamp())::double precision)"


def error_sql(dialect: str, error: Text | str | None) -> tuple[str, tuple[Any, ...]]:
    """The assignments that record a job's failure reason in `dialect`: its English words
    as `error_message` and, for a `Text`, its msgid form as `meta.error_text`, for the
    member's language. A plain `str` (toapis' own words, the command line's) keeps no
    msgid form; None clears both."""
    message = None if error is None else str(error)
    meta_sql, meta_params = _error_text_sql(
        dialect, error.to_json() if isinstance(error, Text) else None
    )
    return f"error_message = ?, {meta_sql}", (message, *meta_params)


def failed_sql(
    dialect: str, code: str, error: Text | str, now: float
) -> tuple[str, tuple[Any, ...]]:
    """The assignments that end a job FAILED at `now` with `code` and `error` (kept as
    `error_sql` says): the one way the unsent and interrupted ends are written."""
    error_set, error_params = error_sql(dialect, error)
    return (
        f"state = ?, error_code = ?, updated_at = ?, finished_at = COALESCE(finished_at, ?), "
        f"{error_set}",
        (JobState.FAILED.value, code, now, now, *error_params),
    )


def _error_text_sql(dialect: str, error_text: dict[str, Any] | None) -> tuple[str, tuple[Any, ...]]:
    """The assignment that sets a job's `meta.error_text` (None: removes it) in `dialect`."""
    postgres = dialect != "sqlite"
    if error_text is None:
        if postgres:
            return "meta = (meta::jsonb - 'error_text')::text", ()
        return "meta = json_remove(meta, '$.error_text')", ()
    encoded = to_json(error_text)
    if postgres:
        return "meta = (meta::jsonb || jsonb_build_object('error_text', ?::jsonb))::text", (
            encoded,
        )
    return "meta = json_set(meta, '$.error_text', json(?))", (encoded,)


def to_json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def from_json(text: str | None) -> dict[str, Any]:
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
        request=from_json(row["request"]),
        meta=from_json(row["meta"]),
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
        result=from_json(row["result"]),
        owner=row["owner"],
        lease_until=row["lease_until"],
    )


async def load_job(session: Session, job_id: int) -> Job:
    row = await session.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist")
    return row_to_job(row)


async def insert_job(
    session: Session,
    new: NewJob,
    state: JobState,
    *,
    dialect: str,
    owner: str | None,
    lease_seconds: float,
    now: float,
) -> int:
    """Write a new job row (held by `owner` for `lease_seconds` on the database's
    clock); its id."""
    lease = f"{now_sql(dialect)} + ?" if owner is not None else "?"
    inserted = await session.fetchone(
        "INSERT INTO jobs (guild_id, channel_id, message_id, requester_id, source_kind, "  # noqa: S608
        "source_ref, range_start, range_end, model, provider, request, meta, state, "
        "progress, created_at, updated_at, kind, owner, lease_until) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, {lease}) "
        "RETURNING id",
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
            to_json(new.request),
            to_json(new.meta),
            state.value,
            now,
            now,
            new.kind.value,
            owner,
            lease_seconds if owner is not None else None,
        ),
    )
    assert inserted is not None
    return int(inserted["id"])


async def claim_unknown_in(session: Session, job_id: int, note: str, *, now: float) -> bool:
    """UNKNOWN -> FAILED with `note`, for the one caller that sends it again (Retry)."""
    outcome = await session.execute(
        "UPDATE jobs SET state = ?, error_code = 'retried', error_message = ?, "
        "updated_at = ? WHERE id = ? AND state = ?",
        (JobState.FAILED.value, note, now, job_id, JobState.UNKNOWN.value),
    )
    return outcome.rowcount == 1
