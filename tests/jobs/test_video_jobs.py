"""Video jobs through the same tracker, submit line and storage as character jobs."""

from __future__ import annotations

from bot.domain.records import Job, JobKind, JobState, NewJob, Quota, SourceKind
from bot.jobs.tracker import TrackerTimings
from bot.providers.video import VideoRequest
from tests.jobs.test_tracker import Harness, Recorder, eventually, new_job

VIDEO_TIMINGS = TrackerTimings(
    poll_interval=0.03,
    timeout=30,
    slow_poll_interval=0.05,
    video_first_poll=0.03,
    video_poll_interval=0.05,
)


class VideoRecorder(Recorder):
    """Also hears finished videos."""

    async def video_ready(self, job: Job) -> None:
        self.events.append(("video", job.id, job.result))


def video_job(
    prompt: str, *, model: str = "sora-2", duration: int = 10
) -> tuple[NewJob, VideoRequest]:
    new = NewJob(
        guild_id=1,
        source_kind=SourceKind.PROMPT,
        source_ref=prompt,
        range_start=0,
        range_end=duration,
        model=model,
        channel_id=10,
        message_id=11,
        requester_id=42,
        kind=JobKind.VIDEO,
    )
    return new, VideoRequest(model=model, prompt=prompt, duration=duration)


async def a_character(harness: Harness, url: str) -> str:
    tracker = await harness.tracker(Recorder(), VIDEO_TIMINGS)
    job = await tracker.submit(*new_job(url))
    await tracker.wait(job.id)
    [character] = await tracker.characters.for_job(job.id)
    return character.username


async def test_a_video_job_is_stored_polled_on_the_general_page_and_announced(
    tmp_path, simulator, media_server, short_video
):
    harness = Harness(tmp_path / "bot.sqlite3", simulator)
    try:
        username = await a_character(harness, f"{media_server}/{short_video.name}")
        events = VideoRecorder()
        tracker = await harness.tracker(events, VIDEO_TIMINGS)
        job = await tracker.submit(*video_job(f"@{username} surfs a wave"))
        done = await tracker.wait(job.id)

        assert done is not None and done.state is JobState.COMPLETED
        assert done.kind is JobKind.VIDEO and done.announced_at is not None
        [video] = done.result["videos"]
        assert video["url"] == f"{simulator.base_url}/f/video/{done.task_id}.mp4"
        assert events.of("video") == [("video", job.id, done.result)]
        polled = {r.path for r in simulator.requests if r.method == "GET"}
        assert f"/v1/videos/generations/{done.task_id}" in polled
        assert f"/v1/characters_tasks/{done.task_id}" not in polled
        # It counts toward the member's videos (and jobs, with the character made first).
        used = await tracker.jobs.usage(1, 42, Quota(since=0, videos_day=9))
        assert (used.videos_day, used.member_day) == (1, 2)
    finally:
        await harness.close()


async def test_a_refused_video_fails_with_the_reason_in_plain_words(tmp_path, simulator):
    harness = Harness(tmp_path / "bot.sqlite3", simulator)
    try:
        events = VideoRecorder()
        tracker = await harness.tracker(events, VIDEO_TIMINGS)
        job = await tracker.submit(*video_job("@nobody.here waves"))
        done = await tracker.wait(job.id)
        assert done is not None and done.state is JobState.FAILED
        assert done.error_message == (
            "The video service refused this request: character @nobody.here not found"
        )
        assert [e[0] for e in events.events if e[0] in ("failed", "video")] == ["failed"]
    finally:
        await harness.close()


async def test_a_video_job_resumes_after_a_restart(tmp_path, simulator, media_server, short_video):
    harness = Harness(tmp_path / "bot.sqlite3", simulator)
    try:
        username = await a_character(harness, f"{media_server}/{short_video.name}")
        simulator.scenario.update(hang=True)
        first = await harness.tracker(VideoRecorder(), VIDEO_TIMINGS)
        job = await first.submit(*video_job(f"@{username} dances"))
        assert job.task_id is not None
        await first.stop()

        simulator.scenario.update(hang=False)
        second = VideoRecorder()
        restarted = await harness.tracker(second, VIDEO_TIMINGS)
        resumed = await restarted.start()
        assert job.id in [j.id for j in resumed]
        await eventually(lambda: bool(second.of("video")))
        assert simulator.submits == 2  # the character, then the video once: never resent
        done = await restarted.jobs.get(job.id)
        assert done is not None and done.state is JobState.COMPLETED
    finally:
        await harness.close()
