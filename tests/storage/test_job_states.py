"""A job's state changes only from the states it may leave: a final state stays final,
and a process that lost a job's lease changes nothing. Leases run on the database clock."""

from __future__ import annotations

import time

import pytest

from bot.domain.records import Job, JobState
from storage import CharacterRepository, Database, JobRepository
from tests.storage.test_storage import new_character, new_job

A, B = "process-a", "process-b"


async def final_jobs(jobs: JobRepository) -> list[Job]:
    """One job in each final state, each reached the way the bot reaches it."""
    completed = await jobs.create(new_job())
    await jobs.set_submitted(completed.id, "task-done", JobState.IN_PROGRESS, 40)
    await jobs.complete(completed.id, [new_character("ch_a")])
    failed = await jobs.create(new_job())
    await jobs.set_submitted(failed.id, "task-failed", JobState.QUEUED, 0)
    await jobs.update_status(failed.id, JobState.FAILED, 10, error_code="x", error="no")
    unknown = await jobs.create(new_job())  # the process died while submitting
    await jobs.mark_interrupted_submissions()
    stored = [await jobs.get(job.id) for job in (completed, failed, unknown)]
    assert [job.state for job in stored if job is not None] == [
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.UNKNOWN,
    ]
    return [job for job in stored if job is not None]


async def test_a_stale_update_never_turns_a_final_job_back_into_a_running_one(
    db: Database,
) -> None:
    jobs = JobRepository(db)
    for job in await final_jobs(jobs):
        # A poller (or a late create answer) with a view from before the job ended.
        assert await jobs.update_status(job.id, JobState.IN_PROGRESS, 60) is None
        assert await jobs.set_submitted(job.id, "task-late", JobState.QUEUED, 0) is None
        assert await jobs.update_status(job.id, JobState.FAILED, 0, error_code="gave_up") is None
        assert await jobs.complete_video(job.id, {"videos": []}) is None
        await jobs.complete(job.id, [new_character(f"ch_late_{job.id}")])
        assert await jobs.get(job.id) == job  # exactly as it ended
    assert await CharacterRepository(db).count_for_guild(1) == 1  # none stored late


async def test_a_process_that_lost_the_lease_changes_nothing(db: Database) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(new_job(), owner=A, lease_seconds=-1)  # A stalled past its lease
    await jobs.set_submitted(job.id, "task-1", JobState.QUEUED, 0, owner=A)
    assert [j.id for j in await jobs.claim(B, 30)] == [job.id]  # B took it over

    assert await jobs.update_status(job.id, JobState.IN_PROGRESS, 50, owner=A) is None
    assert await jobs.complete_video(job.id, {"videos": []}, owner=A) is None
    assert await jobs.complete(job.id, [new_character("ch_a")], owner=A) == []
    stored = await jobs.get(job.id)
    assert stored is not None and (stored.state, stored.progress) == (JobState.QUEUED, 0)

    moved = await jobs.update_status(job.id, JobState.IN_PROGRESS, 50, owner=B)
    assert moved is not None and (moved.state, moved.progress) == (JobState.IN_PROGRESS, 50)


async def test_a_waiting_job_another_process_holds_is_not_sent(db: Database) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=-1)
    assert [j.id for j in await jobs.claim(B, 30)] == [job.id]
    assert await jobs.claim_waiting(job.id, owner=A) is None
    sent = await jobs.claim_waiting(job.id, owner=B)
    assert sent is not None and sent.state is JobState.SUBMITTING


async def test_a_live_lease_holds_against_a_process_whose_clock_runs_ahead(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=30)
    sending = await jobs.create(new_job(), owner=A, lease_seconds=30)  # SUBMITTING
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)  # B's host clock: a minute ahead
    assert await jobs.claim(B, 30) == []
    assert not await jobs.take(job.id, B, 30)
    assert await jobs.mark_interrupted_submissions(owner=B) == []
    for held in (job, sending):
        stored = await jobs.get(held.id)
        assert stored is not None and (stored.owner, stored.state) == (A, held.state)
