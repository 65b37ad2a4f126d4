"""The sweeper's per-job backoff, on a fake clock."""

from __future__ import annotations

from bot.domain.records import Job, JobState, SourceKind
from bot.jobs.sweeper import Sweeper
from bot.jobs.timings import TrackerTimings

TIMINGS = TrackerTimings(sweep_retry=10.0, sweep_max_backoff=60.0)


def a_job(job_id: int) -> Job:
    return Job(
        id=job_id,
        guild_id=1,
        channel_id=None,
        message_id=None,
        requester_id=None,
        source_kind=SourceKind.URL,
        source_ref="https://example.com/v.mp4",
        range_start=1,
        range_end=3,
        model="sora-2",
        provider="toapis",
        request={},
        meta={},
        task_id="task_1",
        state=JobState.COMPLETED,
        progress=100,
        error_code=None,
        error_message=None,
        created_at=0.0,
        updated_at=0.0,
        submitted_at=0.0,
        finished_at=0.0,
        stalled_at=None,
        announced_at=None,
    )


class World:
    def __init__(self) -> None:
        self.now = 0.0
        self.jobs = [a_job(1), a_job(2)]
        self.running: set[int] = set()
        self.spawned: list[int] = []

    async def active(self) -> list[Job]:
        return list(self.jobs)

    def spawn(self, job: Job) -> None:
        self.spawned.append(job.id)

    def sweeper(self) -> Sweeper:
        return Sweeper(
            active=self.active,
            running=lambda job_id: job_id in self.running,
            spawn=self.spawn,
            timings=lambda: TIMINGS,
            clock=lambda: self.now,
        )


async def test_a_job_that_keeps_crashing_waits_longer_each_time_up_to_the_cap():
    world = World()
    sweeper = world.sweeper()
    waits = [sweeper.crashed(1) for _ in range(5)]
    assert [round(w // 10) * 10 for w in waits[:3]] == [10, 20, 40]
    assert all(60 <= w <= 72 for w in waits[3:])  # capped (plus jitter, never earlier)
    assert await sweeper.sweep() == [2]  # job 1 waits; job 2 never crashed
    world.now = 73
    assert await sweeper.sweep() == [1, 2]
    sweeper.finished(1)
    assert sweeper.crashed(1) < 13  # a new crash after a success starts over


async def test_a_job_with_a_running_task_is_left_alone():
    world = World()
    world.running = {1, 2}
    assert await world.sweeper().sweep() == []


async def test_a_crashed_job_that_ended_elsewhere_is_forgotten_at_the_next_sweep():
    world = World()
    sweeper = world.sweeper()
    sweeper.crashed(1)
    sweeper.crashed(2)
    world.jobs = [a_job(2)]  # job 1 was announced by another process meanwhile
    assert await sweeper.sweep() == []  # job 2 still waits out its backoff
    world.jobs = [a_job(2), a_job(3)]
    assert await sweeper.sweep() == [3]
    world.now = 100
    assert await sweeper.sweep() == [2, 3]
    world.jobs = []
    await sweeper.sweep()
    assert sweeper.crashed(1) < 13 and sweeper.crashed(2) < 13  # both start over
