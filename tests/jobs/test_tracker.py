"""The job tracker against the simulator and a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.domain.records import Character, Job, JobState, NewJob, SourceKind
from bot.jobs.events import NullListener
from bot.jobs.tracker import JobTracker, TrackerTimings
from bot.media.assets import checked_download
from bot.providers.base import CharacterRequest
from bot.providers.toapis import ToapisClient
from bot.simulator.tasks import new_character
from storage import CharacterRepository, JobRepository, open_database

FAST = TrackerTimings(poll_interval=0.03, timeout=30, slow_poll_interval=0.05)


class Recorder(NullListener):
    """A listener that records every event, in order (videos and places it ignores)."""

    def __init__(self, block_on_character: bool = False) -> None:
        self.events: list[tuple[str, int, object]] = []
        self.block_on_character = block_on_character

    async def job_changed(self, job: Job) -> None:
        self.events.append(("changed", job.id, (job.state, job.progress)))

    async def job_stalled(self, job: Job) -> None:
        self.events.append(("stalled", job.id, None))

    async def character_ready(self, job: Job, character: Character) -> None:
        if self.block_on_character:
            await asyncio.Event().wait()  # the process "dies" here
        self.events.append(("character", job.id, character.character_id))

    async def job_failed(self, job: Job) -> None:
        self.events.append(("failed", job.id, job.error_message))

    async def job_unknown(self, job: Job) -> None:
        self.events.append(("unknown", job.id, job.error_message))

    def of(self, kind: str) -> list[tuple[str, int, object]]:
        return [e for e in self.events if e[0] == kind]


async def eventually(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class Harness:
    """A database file, a client and trackers built like the bot builds them."""

    def __init__(self, path: Path, simulator) -> None:
        self.path = path
        self.simulator = simulator
        self.trackers: list[JobTracker] = []
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def tracker(self, listener: Recorder, timings: TrackerTimings = FAST) -> JobTracker:
        db = await open_database(self.path)
        client = ToapisClient(self.simulator.base_url, self.simulator.scenario.api_key)
        tracker = JobTracker(
            client,
            JobRepository(db),
            CharacterRepository(db),
            listener,
            timings=timings,
            download=checked_download(allow_private=True),  # avatars on loopback
        )
        self.trackers.append(tracker)
        self.closers += [client.aclose, db.close]
        return tracker

    async def close(self) -> None:
        for tracker in self.trackers:
            await tracker.stop()
        for close in self.closers:
            await close()


@pytest.fixture
async def harness(tmp_path, simulator):
    h = Harness(tmp_path / "bot.sqlite3", simulator)
    yield h
    await h.close()


def new_job(url: str, guild: int = 1, requester: int = 42) -> tuple[NewJob, CharacterRequest]:
    job = NewJob(
        guild_id=guild,
        source_kind=SourceKind.URL,
        source_ref=url,
        range_start=1,
        range_end=3,
        model="sora-2",
        channel_id=10,
        message_id=11,
        requester_id=requester,
    )
    return job, CharacterRequest(start=1, end=3, url=url)


@pytest.fixture
def video_url(media_server, short_video) -> str:
    return f"{media_server}/{short_video.name}"


async def test_happy_path_stores_and_announces_one_character(harness, video_url):
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    assert job.task_id and job.state is JobState.QUEUED
    final = await tracker.wait(job.id)
    assert final is not None and final.state is JobState.COMPLETED
    assert final.announced_at is not None
    progress = [e[2][1] for e in events.of("changed")]  # type: ignore[index]
    assert progress == sorted(progress) and progress[-1] > 0
    [(_, _, character_id)] = events.of("character")
    stored = await tracker.characters.get(1, str(character_id))
    assert stored is not None and stored.creator_id == 42 and stored.task_id == job.task_id
    assert stored.avatar and stored.avatar.startswith(b"\xff\xd8")
    assert stored.avatar_mime == "image/jpeg"


async def test_every_character_of_a_task_is_announced(harness, simulator, video_url):
    simulator.scenario.update(characters=3)
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    await tracker.wait(job.id)
    assert len(events.of("character")) == 3
    assert len(await tracker.characters.for_job(job.id)) == 3


async def test_failed_task_tells_why(harness, simulator, video_url):
    simulator.scenario.update(
        fail_with=("generation_failed", "Generation failed: Content violates the content policy")
    )
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    final = await tracker.wait(job.id)
    assert final is not None and final.state is JobState.FAILED
    assert events.of("failed") == [("failed", job.id, "Content violates the content policy")]
    assert await tracker.characters.count_for_guild(1) == 0


async def test_media_without_audio_fails_at_the_service(harness, media_server, silent_video):
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(f"{media_server}/{silent_video.name}"))
    await tracker.wait(job.id)
    [(_, _, message)] = events.of("failed")
    assert "audio" in str(message)


async def test_submit_refusal_fails_the_job_with_a_plain_message(harness, simulator, video_url):
    refusal = {"error": {"code": 400, "message": "Invalid request: no character found"}}
    simulator.scenario.update(submit_status=[400, refusal])
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    await tracker.wait(job.id)
    [(_, _, message)] = events.of("failed")
    assert "refused this request: no character found" in str(message)
    stored = await tracker.jobs.get(job.id)
    assert stored is not None and stored.state is JobState.FAILED and stored.task_id is None


async def test_timeout_then_late_completion_is_stored_and_announced(harness, simulator, video_url):
    simulator.scenario.update(hang=True)
    events = Recorder()
    tracker = await harness.tracker(
        events, TrackerTimings(poll_interval=0.03, timeout=0.3, slow_poll_interval=0.05)
    )
    job = await tracker.submit(*new_job(video_url))
    await eventually(lambda: bool(events.of("stalled")))
    assert not events.of("character")
    simulator.scenario.update(hang=False)
    final = await tracker.wait(job.id)
    assert final is not None and final.state is JobState.COMPLETED
    assert len(events.of("stalled")) == 1 and len(events.of("character")) == 1


async def test_restart_mid_job_resumes_with_exactly_one_character(harness, simulator, video_url):
    simulator.scenario.update(hang=True)
    first = Recorder()
    tracker = await harness.tracker(first)
    job = await tracker.submit(*new_job(video_url))
    await eventually(
        lambda: any(e[2][0] is JobState.IN_PROGRESS for e in first.of("changed"))  # type: ignore[index]
    )
    await tracker.stop()  # the process goes away mid-job
    simulator.scenario.update(hang=False)

    second = Recorder()
    restarted = await harness.tracker(second)
    resumed = await restarted.start()
    assert [j.id for j in resumed] == [job.id]
    await restarted.wait(job.id)
    assert len(second.of("character")) == 1 and not first.of("character")
    assert await restarted.characters.count_for_guild(1) == 1
    assert simulator.submits == 1  # never resubmitted


async def test_crash_between_completed_and_announced_announces_once(harness, video_url):
    first = Recorder(block_on_character=True)
    tracker = await harness.tracker(first)
    job = await tracker.submit(*new_job(video_url))
    for _ in range(1000):  # wait until the character is stored
        if await tracker.characters.count_for_guild(1) == 1:
            break
        await asyncio.sleep(0.01)
    assert await tracker.characters.count_for_guild(1) == 1
    await tracker.stop()  # died while announcing

    second = Recorder()
    restarted = await harness.tracker(second)
    await restarted.start()
    await restarted.wait(job.id)
    assert len(second.of("character")) == 1
    assert await restarted.characters.count_for_guild(1) == 1

    third = Recorder()
    again = await harness.tracker(third)
    assert await again.start() == []  # nothing left to announce
    assert third.events == []


async def test_interrupted_submission_is_reported_unknown_and_not_resent(
    harness, simulator, video_url
):
    events = Recorder()
    tracker = await harness.tracker(events)
    new, _ = new_job(video_url)
    job = await tracker.jobs.create(new)  # row written, then the process died
    await tracker.start()
    await tracker.wait(job.id)
    assert [e[0] for e in events.events] == ["unknown"]
    stored = await tracker.jobs.get(job.id)
    assert stored is not None and stored.state is JobState.UNKNOWN
    assert simulator.submits == 0


async def test_two_guilds_are_kept_apart(harness, video_url):
    events = Recorder()
    tracker = await harness.tracker(events)
    a = await tracker.submit(*new_job(video_url, guild=1))
    b = await tracker.submit(*new_job(video_url, guild=2))
    await tracker.wait(a.id)
    await tracker.wait(b.id)
    in_one = await tracker.characters.list_for_guild(1)
    in_two = await tracker.characters.list_for_guild(2)
    assert len(in_one) == len(in_two) == 1
    assert in_one[0].job_id == a.id and in_two[0].job_id == b.id
    assert await tracker.characters.get(1, in_two[0].character_id) is None


async def test_transient_query_errors_do_not_fail_the_job(harness, simulator, video_url):
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    simulator.scenario.update(server_errors=3, rate_limit_queries=2, retry_after=0)
    final = await tracker.wait(job.id)
    assert final is not None and final.state is JobState.COMPLETED


class FlakyDiscord(Recorder):
    """A listener whose first two card announcements fail (Discord having a bad moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 2

    async def character_ready(self, job: Job, character: Character) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("503 Service Unavailable")
        await super().character_ready(job, character)


async def test_a_failed_announcement_is_retried_and_recorded_once(harness, video_url):
    events = FlakyDiscord()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    final = await tracker.wait(job.id)
    assert final is not None and final.announced_at is not None
    assert len(events.of("character")) == 1 and events.failures == 0


class DiscordDown(Recorder):
    """A listener whose card announcements fail `failures` times (Discord down a while)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def character_ready(self, job: Job, character: Character) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("503 Service Unavailable")
        await super().character_ready(job, character)


SWEEPING = replace(FAST, announce_attempts=2, sweep_interval=0.05, sweep_retry=0.05)


async def test_a_card_that_failed_every_retry_arrives_without_a_restart(harness, video_url):
    events = DiscordDown(failures=5)  # more than the 2 tries of one announcement
    tracker = await harness.tracker(events, SWEEPING)
    await tracker.start()
    job = await tracker.submit(*new_job(video_url))
    await eventually(lambda: bool(events.of("character")))
    stored = await tracker.wait(job.id)
    assert stored is not None and stored.announced_at is not None
    swept = tracker.sweeps
    await eventually(lambda: tracker.sweeps >= swept + 2)  # later sweeps leave it alone
    assert len(events.of("character")) == 1 and events.failures == 0
    assert await tracker.characters.count_for_guild(1) == 1


async def test_a_task_already_finished_when_the_create_answer_arrives_still_gives_a_card(
    harness, simulator, video_url
):
    simulator.scenario.update(submit_delay=1.0)  # the task completes before we hear of it
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    final = await tracker.wait(job.id)
    assert final is not None and final.state is JobState.COMPLETED
    assert len(events.of("character")) == 1
    assert await tracker.characters.count_for_guild(1) == 1


async def test_a_character_the_guild_already_has_still_ends_as_a_card(
    harness, simulator, video_url
):
    events = Recorder()
    tracker = await harness.tracker(events)
    first = await tracker.submit(*new_job(video_url))
    await tracker.wait(first.id)
    [(_, _, known)] = events.of("character")

    simulator.scenario.update(hang=True)
    second = await tracker.submit(*new_job(video_url, requester=43))
    assert second.task_id is not None
    task = simulator.tasks[second.task_id]
    if task.runner is not None:
        task.runner.cancel()
    again = {**new_character(task.id, 1, simulator.base_url), "id": str(known)}
    task.complete([again])  # toapis answers with a character id the server already has

    final = await tracker.wait(second.id)
    assert final is not None and final.state is JobState.COMPLETED
    assert final.announced_at is not None
    assert [e for e in events.of("character") if e[1] == second.id] == [
        ("character", second.id, known)
    ]
    assert await tracker.characters.count_for_guild(1) == 1  # stored once
    [shown] = await tracker.characters.for_job(second.id)
    assert shown.character_id == known


async def test_a_job_taken_over_by_another_process_is_no_longer_followed(
    harness, simulator, video_url
):
    simulator.scenario.update(hang=True)
    events = Recorder()
    tracker = await harness.tracker(events)
    job = await tracker.submit(*new_job(video_url))
    assert tracker.running == 1
    held = await tracker.jobs.get(job.id)
    assert held is not None and held.owner == tracker.owner
    assert await tracker.renew_leases() == {job.id}
    # Another process took it over (this one was stalled past its lease).
    await tracker.jobs.release(tracker.owner, job.id)
    assert await tracker.jobs.take(job.id, "another-process", 30)
    assert await tracker.renew_leases() == set()
    await eventually(lambda: tracker.running == 0)
    simulator.scenario.update(hang=False)
    await asyncio.sleep(0.3)
    assert not events.of("character")  # the new owner announces it, not this process


async def test_stop_releases_leases_so_a_restart_resumes_at_once(harness, simulator, video_url):
    simulator.scenario.update(hang=True)
    tracker = await harness.tracker(Recorder())
    job = await tracker.submit(*new_job(video_url))
    await tracker.stop()
    stored = await tracker.jobs.get(job.id)
    assert stored is not None and stored.owner is None and stored.lease_until is None
