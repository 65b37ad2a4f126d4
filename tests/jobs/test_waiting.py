"""Jobs waiting at toapis are cheap: few status queries, and no write when nothing changed.

Real tracker, real client and the simulator over sockets. Assertions are about outcomes:
how many status queries toapis saw, what the member was shown, and that every card came.
"""

from __future__ import annotations

import pytest

from bot.domain.records import JobState
from bot.jobs.tracker import TrackerTimings
from tests.jobs.test_tracker import Harness, Recorder, new_job

# Tasks wait at toapis for 50 poll intervals, then run 4 steps of 2 or 3 intervals.
TIMINGS = TrackerTimings(poll_interval=0.05, timeout=30, expected_duration=0.5)
QUEUED_FOR = 2.5


@pytest.fixture
async def harness(tmp_path, simulator):
    h = Harness(tmp_path / "bot.sqlite3", simulator)
    yield h
    await h.close()


@pytest.fixture
def video_url(media_server, short_video) -> str:
    return f"{media_server}/{short_video.name}"


def status_queries(simulator, task_id: str) -> int:
    return sum(1 for r in simulator.requests if r.method == "GET" and r.path.endswith(task_id))


async def test_a_long_queue_costs_few_queries_and_each_change_is_shown_once(
    harness: Harness, simulator, video_url
):
    simulator.scenario.update(queued_for=QUEUED_FOR, step_interval=0.1)
    events = Recorder()
    tracker = await harness.tracker(events, TIMINGS)
    first = await tracker.submit(*new_job(video_url, requester=1))
    await tracker.wait(first.id)
    # The next job is asked when tasks were seen to start, not every two intervals.
    second = await tracker.submit(*new_job(video_url, requester=2))
    final = await tracker.wait(second.id)

    assert final is not None and final.state is JobState.COMPLETED
    assert len(events.of("character")) == 2
    assert second.task_id is not None
    # Asking every 2 intervals while queued would be 25 queries before it even starts; the
    # whole job takes fewer, its end (asked every 0.4 intervals through the window it
    # usually falls in) included.
    assert status_queries(simulator, second.task_id) <= 25
    for job in (first, second):
        shown = [e[2] for e in events.of("changed") if e[1] == job.id]
        assert shown, "the member saw the job move"
        assert len(shown) == len(set(shown)), "an unchanged state was shown (and stored) again"
        assert any(e[0] is JobState.IN_PROGRESS for e in shown)  # type: ignore[index]


async def test_a_task_queued_much_longer_than_usual_is_still_followed_to_its_card(
    harness: Harness, simulator, video_url
):
    simulator.scenario.update(step_interval=0.15)
    events = Recorder()
    tracker = await harness.tracker(events, TIMINGS)
    quick = await tracker.submit(*new_job(video_url, requester=1))
    await tracker.wait(quick.id)  # tasks usually start at once
    simulator.scenario.update(queued_for=QUEUED_FOR)
    slow = await tracker.submit(*new_job(video_url, requester=2))
    final = await tracker.wait(slow.id)

    assert final is not None and final.state is JobState.COMPLETED
    assert [e[1] for e in events.of("character")] == [quick.id, slow.id]
    assert slow.task_id is not None
    # It backs off while queued (50 intervals); its densely asked end adds about a dozen.
    assert status_queries(simulator, slow.task_id) <= 45  # 36 and 39 seen; asked every
    # interval while queued would be over 50
