"""A long-running bot forgets every job once it ends: 200 jobs through the real bot, the
fake Discord and the simulator, a quarter cancelled by the member, some ending in another
process, and what the bot keeps per job (progress updaters, the sweeper's backoff, the
announcement locks) is back to its starting size."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.domain.records import Job, JobState, NewJob, SourceKind
from bot.providers.base import CharacterRequest
from cogs.character._writes import DiscordWrites
from storage import JobRepository, open_database
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.fakes import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord, payloads
from tests.fakes.seen import shown_text

JOBS = 200
WAVE = 100
SOURCE = "https://example.com/clip.mp4"


def fate(index: int) -> str:
    """What happens to the `index`-th job: a quarter cancelled, an eighth elsewhere."""
    return {1: "cancel", 5: "cancel", 3: "elsewhere", 6: "fails"}.get(index % 8, "card")


async def until(check: Callable[[], bool], what: str, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def shown(fake: FakeDiscord, message_id: int) -> str:
    message = fake.message(message_id)
    assert message is not None
    return shown_text(message)


class Member:
    """Starts jobs the way a reply would show them, and presses Cancel."""

    def __init__(self, sora: Running) -> None:
        self.sora = sora

    async def start(self) -> Job:
        reply = payloads.message(author=payloads.bot_author(), content="Working on it")
        self.sora.fake.add_message(reply)
        new = NewJob(
            guild_id=GUILD_ID,
            source_kind=SourceKind.URL,
            source_ref=SOURCE,
            range_start=1,
            range_end=3,
            model="sora-2",
            channel_id=CHANNEL_ID,
            message_id=int(reply["id"]),
            requester_id=USER_ID,
        )
        job: Job = await self.sora.core.tracker.submit(
            new, CharacterRequest(start=1, end=3, url=SOURCE)
        )
        assert job.task_id is not None
        return job

    async def cancel(self, job: Job) -> None:
        """Press "Cancel #id" under `/character jobs` (the list as that command shows it)."""
        button = {"type": 2, "style": 4, "label": f"Cancel #{job.id}"}
        button["custom_id"] = f"sora:cancel:{job.id}"
        jobs_list = payloads.message(
            author=payloads.bot_author(), components=[{"type": 1, "components": [button]}]
        )
        self.sora.fake.add_message(jobs_list)
        self.sora.feed(payloads.component_click(str(button["custom_id"]), jobs_list))

        def told() -> bool:
            return "Cancelled" in shown(self.sora.fake, job.message_id or 0)

        await until(told, f"job {job.id} to show it was cancelled", 30)


def kept(tracker: Any, listener: Any) -> dict[str, int]:
    """How many jobs each per-job structure holds."""
    return {
        "progress updaters": len(listener._updaters),
        "sweeper crashes": len(tracker._sweeper._crashes),
        "sweeper waits": len(tracker._sweeper._due),
        "announcement locks": len(tracker._announcer._locks),
    }


async def run_wave(
    sora: Running, simulator: Any, member: Member, first: int
) -> dict[str, list[Job]]:
    """Start a wave of jobs, let each show its progress, then end them as `fate` says."""
    simulator.scenario.update(hang=True)
    started = await asyncio.gather(*(member.start() for _ in range(WAVE)))
    by_fate: dict[str, list[Job]] = {}
    for index, job in enumerate(started, start=first):
        by_fate.setdefault(fate(index), []).append(job)

    def progress_shown() -> bool:
        return all("%" in shown(sora.fake, job.message_id or 0) for job in started)

    await until(progress_shown, "every job to show its progress")
    for job in by_fate.get("elsewhere", []):  # Discord refuses its card: the task crashes
        sora.fake.fail_next(
            "PATCH",
            rf"/channels/{CHANNEL_ID}/messages/{job.message_id}",
            400,
            {"code": 50035, "message": "Invalid Form Body"},
            times=1000,
        )
    await asyncio.gather(*(member.cancel(job) for job in by_fate.get("cancel", [])))
    for index, job in enumerate(started, start=first):
        end = simulator.fail_task if fate(index) == "fails" else simulator.complete_task
        end(job.task_id)
    await until(lambda: sora.core.tracker.running == 0, "the wave's jobs to end")
    return by_fate


async def test_two_hundred_jobs_leave_nothing_behind(
    tmp_path: Path, fake_discord: FakeDiscord, simulator: Any
) -> None:
    simulator.scenario.update(check_media=False, queued_for=0.0, progress_steps=[40])
    settings = bot_settings(
        tmp_path,
        fake_discord,
        simulator,
        poll_interval_seconds=0.2,
        lease_seconds=3,  # the lease loop, and the sweeper with it, runs every second
        toapis_submit_per_second=1000,
        toapis_query_per_second=10000,
    )
    sora = await start_bot(settings, fake_discord)
    other = await open_database(tmp_path / "bot.sqlite3")  # another process's connection
    try:
        tracker = sora.core.tracker
        # A refused card crashes the job's task at once, and the sweeper would wait an
        # hour before following it again: time enough for it to end elsewhere.
        tracker.timings = replace(
            tracker.timings, announce_attempts=1, sweep_retry=3600, sweep_max_backoff=3600
        )
        listener: Any = sora.bot.get_cog("CharacterCog").job_listener  # type: ignore[union-attr]
        listener.writes = DiscordWrites(1000)
        start_sizes = kept(tracker, listener)

        member = Member(sora)
        ended: dict[str, list[Job]] = {}
        for first in range(0, JOBS, WAVE):
            for kind, jobs in (await run_wave(sora, simulator, member, first)).items():
                ended.setdefault(kind, []).extend(jobs)
        assert len(ended["cancel"]) == JOBS // 4

        crashed = ended["elsewhere"]
        assert len(tracker._sweeper._crashes) == len(crashed)  # each waits for the sweeper
        for job in crashed:  # another process announces them (it took them over)
            await JobRepository(other).mark_announced(job.id)
        sweeps = tracker.sweeps
        await until(lambda: tracker.sweeps >= sweeps + 2, "two sweeps")

        assert kept(tracker, listener) == start_sizes

        for job in ended["card"]:
            assert "Character id" in shown(fake_discord, job.message_id or 0)
        for job in ended["cancel"]:
            stored = await sora.core.jobs.get(job.id)
            assert stored.state is JobState.COMPLETED  # the late result is kept, unshown
            assert "Character id" not in shown(fake_discord, job.message_id or 0)
            assert "Cancelled" in shown(fake_discord, job.message_id or 0)
    finally:
        await other.close()
        await sora.bot.close()
