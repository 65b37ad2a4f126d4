"""Jobs owned by lease: claimed, renewed, released, taken over when a lease runs out."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.domain.records import JobState, SourceKind
from bot.i18n.text import Text
from bot.jobs.again import INTERRUPTED
from storage import Database, JobRepository, open_database
from storage.jobs import INTERRUPTED_PREPARING
from tests.storage.test_storage import new_job

A, B = "process-a", "process-b"


async def test_new_jobs_have_no_owner_until_claimed(db: Database) -> None:
    jobs = JobRepository(db)
    free = await jobs.create(new_job(), state=JobState.WAITING)
    held = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=30)
    assert free.owner is None and free.lease_until is None
    assert held.owner == A and held.lease_until is not None

    claimed = await jobs.claim(B, 30)
    assert [job.id for job in claimed] == [free.id]  # A's live lease is left alone
    assert claimed[0].owner == B
    assert await jobs.claim(A, 30) == [await jobs.get(held.id)]


async def test_an_expired_lease_is_taken_over_and_its_owner_learns_it(db: Database) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=-1)
    taken = await jobs.claim(B, 30)
    assert [j.id for j in taken] == [job.id] and taken[0].owner == B
    assert await jobs.renew(A, 30) == set()  # A must stop following it
    assert await jobs.renew(B, 30) == {job.id}
    assert not await jobs.take(job.id, A, 30)
    assert await jobs.take(job.id, B, 30)


async def test_release_lets_another_process_claim_at_once(db: Database) -> None:
    jobs = JobRepository(db)
    one = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=30)
    two = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=30)
    assert await jobs.release(A, one.id) == 1
    assert [j.id for j in await jobs.claim(B, 30)] == [one.id]
    assert await jobs.release(A) == 1  # every lease A still holds
    assert [j.id for j in await jobs.claim(B, 30)] == [one.id, two.id]


async def test_announced_jobs_are_not_renewed_or_claimed(db: Database) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(new_job(), state=JobState.WAITING, owner=A, lease_seconds=30)
    await jobs.update_status(job.id, JobState.FAILED, 0, error_code="x", error="x")
    assert await jobs.renew(A, 30) == {job.id}  # final, not announced yet: work left
    announced = await jobs.mark_announced(job.id)
    # Still held until released (its owner is about to), but no longer extended.
    assert await jobs.renew(A, 60) == {job.id}
    still = await jobs.get(job.id)
    assert still is not None and still.lease_until == announced.lease_until
    assert await jobs.claim(B, -1) == []
    await jobs.release(A, job.id)
    assert await jobs.renew(A, 30) == set()


async def test_only_orphaned_submissions_are_interrupted(db: Database) -> None:
    jobs = JobRepository(db)
    live = await jobs.create(new_job(), owner=A, lease_seconds=30)  # SUBMITTING
    dead = await jobs.create(new_job(), owner=B, lease_seconds=-1)
    mine = await jobs.create(new_job(), owner="me", lease_seconds=-1)
    unowned = await jobs.create(new_job())
    preparing = await jobs.create(new_job(), state=JobState.PREPARING, owner=A, lease_seconds=30)

    interrupted = await jobs.mark_interrupted_submissions(owner="me")
    assert [j.id for j in interrupted] == [dead.id, unowned.id]
    for kept in (live, mine):
        stored = await jobs.get(kept.id)
        assert stored is not None and stored.state is JobState.SUBMITTING
    stored = await jobs.get(preparing.id)
    assert stored is not None and stored.state is JobState.PREPARING
    # The interrupted jobs are the new owner's to announce.
    claimed = await jobs.claim("me", 30)
    assert {j.id for j in claimed} == {dead.id, unowned.id}


async def test_concurrent_claims_never_share_a_job(db_target: object) -> None:
    """Two processes (two pools) claiming at once split the jobs between them."""
    first = await open_database(db_target)  # type: ignore[arg-type]
    second = await open_database(db_target)  # type: ignore[arg-type]
    try:
        jobs_a, jobs_b = JobRepository(first), JobRepository(second)
        ids = [(await jobs_a.create(new_job(), state=JobState.WAITING)).id for _ in range(40)]
        got_a, got_b = await asyncio.gather(jobs_a.claim(A, 30), jobs_b.claim(B, 30))
        a_ids, b_ids = {j.id for j in got_a}, {j.id for j in got_b}
        assert not a_ids & b_ids
        assert a_ids | b_ids == set(ids)
        for job_id in ids:
            stored = await jobs_a.get(job_id)
            assert stored is not None
            assert stored.owner == (A if job_id in a_ids else B)
    finally:
        await first.close()
        await second.close()


async def test_jobs_left_preparing_by_a_gone_process_are_adopted_if_refetchable(
    db: Database,
) -> None:
    """A link (or page, or task) is taken to be prepared again; an attachment is failed
    with the plain reason by the claim that follows; a live process's job is left alone."""
    jobs = JobRepository(db)
    gone = await jobs.create(new_job(), state=JobState.PREPARING, owner=A, lease_seconds=-1)
    live = await jobs.create(new_job(), state=JobState.PREPARING, owner=B, lease_seconds=30)
    attached = replace(new_job(), source_kind=SourceKind.ATTACHMENT, source_ref="a.mp4")
    lost = await jobs.create(attached, state=JobState.PREPARING, owner=A, lease_seconds=-1)

    adopted = await jobs.adopt_preparing("me", 30)
    assert [(j.id, j.state, j.owner) for j in adopted] == [(gone.id, JobState.PREPARING, "me")]
    assert await jobs.adopt_preparing("other", 30) == []  # held by "me" now
    assert [j.id for j in await jobs.claim("me", 30)] == [lost.id]  # failed, to announce
    stored = await jobs.get(lost.id)
    assert stored is not None and stored.state is JobState.FAILED
    assert stored.error_message == INTERRUPTED_PREPARING
    kept = await jobs.get(live.id)
    assert kept is not None and kept.state is JobState.PREPARING and kept.owner == B

    failed = await jobs.fail_preparing(gone.id, "gone. Nothing was charged.")
    assert failed is not None and failed.state is JobState.FAILED and failed.task_id is None
    assert failed.error_message == "gone. Nothing was charged."
    assert await jobs.fail_preparing(gone.id, "again") is None  # no longer preparing


async def test_an_error_keeps_its_msgid_form_beside_the_english_and_meta(db: Database) -> None:
    jobs = JobRepository(db)
    job = await jobs.create(replace(new_job(), meta={"locale": "de"}), state=JobState.WAITING)
    said = Text("{n} s too long.", n=3, inner=Text("x"))
    kept = {"msgid": "{n} s too long.", "params": {"n": 3, "inner": {"msgid": "x", "params": {}}}}
    failed = await jobs.update_status(job.id, JobState.FAILED, 100, error=said)
    assert failed is not None and failed.error_message == "3 s too long."
    assert failed.meta == {"locale": "de", "error_text": kept}
    waiting = await jobs.create(replace(new_job(), meta={"locale": "fr"}), state=JobState.WAITING)
    held = await jobs.update_status(waiting.id, JobState.WAITING, 0, error=said)
    assert held is not None and held.meta["error_text"] == kept
    assert held.error_message == "3 s too long."
    # toapis' own words have no msgid form: the one kept before goes.
    plain = await jobs.update_status(waiting.id, JobState.WAITING, 0, error="No faces.")
    assert plain is not None and plain.error_message == "No faces."
    assert plain.meta == {"locale": "fr"}
    cleared = await jobs.update_status(waiting.id, JobState.IN_PROGRESS, 5)
    assert cleared is not None and cleared.meta == {"locale": "fr"}


async def test_a_job_left_preparing_fails_with_its_msgid_kept(db: Database) -> None:
    jobs = JobRepository(db)
    left = await jobs.create(new_job(), state=JobState.PREPARING)
    await jobs.mark_interrupted_submissions()
    stored = await jobs.get(left.id)
    assert stored is not None and stored.error_message == INTERRUPTED_PREPARING
    assert stored.meta["error_text"] == {"msgid": INTERRUPTED_PREPARING, "params": {}}
    assert INTERRUPTED_PREPARING == INTERRUPTED  # the msgid the catalogues translate
    other = await jobs.create(new_job(), state=JobState.PREPARING)
    failed = await jobs.fail_preparing(other.id, Text("gone {why}", why="now"))
    assert failed is not None and failed.error_message == "gone now"
    assert failed.meta["error_text"] == {"msgid": "gone {why}", "params": {"why": "now"}}
