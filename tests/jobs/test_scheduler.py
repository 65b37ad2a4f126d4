"""One scheduler over every job: shared budgets, a fair persistent line, account holds.

Jobs run through the real tracker, a budgeted toapis client and the simulator over real
sockets, with the simulator enforcing the limits. Assertions are about outcomes: what
toapis saw (counts, 429s, order) and what each job ended as.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.records import Job, JobState, NewJob, SourceKind
from bot.jobs.pace import Paces, next_poll
from bot.jobs.submit_line import Place, fair_order
from bot.jobs.tracker import JobTracker, TrackerTimings
from bot.media.assets import checked_download
from bot.net.rate_budget import AccountBudgets, tier_limits
from bot.providers.base import CharacterRequest
from bot.providers.toapis import ToapisClient
from bot.simulator import Simulator
from storage import CharacterRepository, Database, JobRepository, open_database
from tests.jobs.test_tracker import Recorder, eventually

TIMINGS = TrackerTimings(poll_interval=0.05, timeout=30, expected_duration=0.5)
SUBMIT = "/v1/videos/generations"


class PlaceRecorder(Recorder):
    """Also records what each job was told about its place in line."""

    def __init__(self) -> None:
        super().__init__()
        self.places: dict[int, list[Place]] = {}

    async def job_in_line(self, job: Job, place: Place) -> None:
        self.places.setdefault(job.id, []).append(place)


class Bot:
    """A tracker wired as the core wires it: one set of budgets for client and tracker."""

    def __init__(self, path: Path, simulator: Simulator, **limits: float) -> None:
        self.path = path
        self.simulator = simulator
        self.limits = limits
        self.opened: list[tuple[JobTracker, ToapisClient, Database]] = []

    async def start(self, listener: Recorder, *, begin: bool = True) -> JobTracker:
        budgets = AccountBudgets.create(tier_limits("default", **self.limits), query_share=0.8)
        db = await open_database(self.path)
        client = ToapisClient(self.simulator.base_url, "sim-key", budgets=budgets)
        tracker = JobTracker(
            client,
            JobRepository(db),
            CharacterRepository(db),
            listener,
            timings=TIMINGS,
            download=checked_download(allow_private=True),
            budgets=budgets,
        )
        tracker.line.notice_interval = 0.05
        self.opened.append((tracker, client, db))
        if begin:
            await tracker.start()
        return tracker

    async def stop(self) -> None:
        for tracker, client, db in self.opened:
            await tracker.stop()
            await client.aclose()
            await db.close()
        self.opened.clear()


@pytest.fixture
async def bot(tmp_path: Path, simulator: Simulator) -> AsyncIterator[Bot]:
    simulator.scenario.update(check_media=False, tier="default", retry_after=1)
    b = Bot(tmp_path / "bot.sqlite3", simulator)
    yield b
    await b.stop()


def order(guild: int, member: int, n: int = 0) -> tuple[NewJob, CharacterRequest]:
    url = f"http://127.0.0.1/g{guild}-m{member}-{n}.mp4"
    new = NewJob(
        guild_id=guild,
        source_kind=SourceKind.URL,
        source_ref=url,
        range_start=1,
        range_end=3,
        model="sora-2",
        channel_id=10,
        message_id=11,
        requester_id=member,
        request=CharacterRequest(start=1, end=3, url=url).model_dump(exclude_none=True),
    )
    return new, CharacterRequest(start=1, end=3, url=url)


async def queue(tracker: JobTracker, orders: list[tuple[NewJob, CharacterRequest]]) -> list[Job]:
    """Store jobs straight into the line (as a restart finds them), in this order."""
    return [await tracker.jobs.create(new, state=JobState.WAITING) for new, _ in orders]


def sent_urls(simulator: Simulator) -> list[str]:
    return [
        r.body["url"]
        for r in simulator.requests
        if r.method == "POST" and r.path == SUBMIT and isinstance(r.body, dict)
    ]


async def all_done(tracker: JobTracker, count: int, within: float = 60.0) -> list[Job]:
    async def finished() -> list[Job]:
        jobs = await tracker.jobs.list_for_guild(1, limit=500)
        jobs += await tracker.jobs.list_for_guild(2, limit=500)
        return [j for j in jobs if j.state.is_final and j.announced_at is not None]

    deadline = asyncio.get_running_loop().time() + within
    while len(done := await finished()) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(done)} of {count} done"
        await asyncio.sleep(0.05)
    return done


def test_fair_order_is_round_robin_across_servers_then_members() -> None:
    pairs = [(1, 7)] * 4 + [(1, 8), (2, 9), (2, 9)]
    jobs = [_job(i, g, m) for i, (g, m) in enumerate(pairs, start=1)]
    assert [j.id for j in fair_order(jobs)] == [1, 6, 5, 7, 2, 3, 4]


def _job(job_id: int, guild: int, member: int) -> Job:
    return Job(
        id=job_id,
        guild_id=guild,
        requester_id=member,
        channel_id=None,
        message_id=None,
        source_kind=SourceKind.URL,
        source_ref="x",
        range_start=1.0,
        range_end=3.0,
        model="sora-2",
        provider="toapis",
        request={},
        meta={},
        task_id=None,
        state=JobState.WAITING,
        progress=0,
        error_code=None,
        error_message=None,
        created_at=0.0,
        updated_at=0.0,
        submitted_at=None,
        finished_at=None,
        stalled_at=None,
        announced_at=None,
    )


def test_a_task_behind_older_queued_ones_is_asked_less_often_until_its_turn_nears() -> None:
    timings = TrackerTimings()  # the defaults: poll_interval 5 s
    line = Paces(timings)
    pace = line.of("sora-2")

    def wait(age: float, now: float) -> float:
        oldest = line.oldest_queued(now)
        return next_poll(
            timings, pace, state=JobState.QUEUED, age=age, polls=3, stalled=False, errors=0,
            oldest=oldest,
        )  # fmt: skip

    alone = max(wait(20.0, now=200.0) for _ in range(50))
    line.still_queued(age=200.0, now=200.0)  # a task sent 200 s ago still waits
    behind = [wait(20.0, now=200.0) for _ in range(50)]
    near = [wait(195.0, now=200.0) for _ in range(50)]
    assert alone <= 33.0  # nothing older seen queued: asked at least every 30 s (+10 %)
    assert min(behind) >= 54.0 and max(behind) <= 66.0  # 180 s behind: a minute, no more
    assert max(near) <= 33.0  # its turn is near: as often as before
    # The oldest is forgotten once no poll has seen it queued for a minute.
    assert line.oldest_queued(261.0) == 0.0
    assert max(wait(20.0, now=261.0) for _ in range(50)) <= 33.0
    # Tasks that wait 5 s in toapis' queue do not slow a fresh one down later on: what
    # counts is how long they had waited when seen, not how long ago that was.
    line.still_queued(age=5.0, now=300.0)
    assert max(wait(2.0, now=340.0) for _ in range(50)) <= 33.0


def test_a_model_that_usually_runs_90_s_is_asked_rarely_early_and_densely_near_its_end() -> None:
    timings = TrackerTimings()  # the defaults: poll_interval 5 s
    paces = Paces(timings)
    for started, ended in [(50.0, 90.0), (45.0, 83.0), (55.0, 97.0), (48.0, 86.0)]:
        paces.of("sora-2").started(started)
        paces.of("sora-2").finished(ended, started)

    def waits(model: str, age: float, started: float) -> list[float]:
        return [
            next_poll(
                timings,
                paces.of(model),
                state=JobState.IN_PROGRESS,
                age=age,
                polls=4,
                stalled=False,
                errors=0,
                started=started,
            )
            for _ in range(50)
        ]

    # Seen running at 50 s: asked next near the window its end usually falls in, not before.
    early = waits("sora-2", age=52.0, started=50.0)
    assert min(early) >= 20.0 and max(early) <= 33.0  # once, at most every 30 s
    # Around its usual end (about 90 s), every 2 s (+-10 %).
    near = waits("sora-2", age=88.0, started=50.0) + waits("sora-2", age=92.0, started=50.0)
    assert max(near) <= 2.2
    # Long past it: further apart again, at most every 10 s.
    late = waits("sora-2", age=150.0, started=50.0)
    assert min(late) >= 9.0 and max(late) <= 11.0
    # Another model has its own pace: one that runs for minutes is not asked densely at
    # sora-2's end.
    for started, ended in [(50.0, 250.0), (45.0, 240.0), (55.0, 260.0)]:
        paces.of("sora-2-pro").started(started)
        paces.of("sora-2-pro").finished(ended, started)
    assert min(waits("sora-2-pro", age=88.0, started=50.0)) >= 27.0


async def forty_jobs_at_ten_per_second(bot: Bot, simulator: Simulator, **scenario: float) -> None:
    """40 jobs from two servers and five members, sent under (and enforced at) 10 submits
    per second: every one completes and is announced, without one 429."""
    bot.limits = {"submit_per_second": 10}  # both sides: 10/s and 100 per 10 s
    simulator.scenario.update(submit_per_second=10, **scenario)
    events = Recorder()
    tracker = await bot.start(events, begin=False)
    await queue(tracker, [order(1 + n % 2, 100 + n % 5, n) for n in range(40)])
    await tracker.start()
    done = await all_done(tracker, 40)
    assert all(j.state is JobState.COMPLETED for j in done)
    limits = simulator.limits.to_dict()
    assert limits["submit"]["limited"] == 0 and limits["query"]["limited"] == 0
    assert limits["submit"]["accepted"] == 40 and simulator.submits == 40
    assert len(events.of("character")) == 40


async def test_many_jobs_stay_inside_the_enforced_limits_and_all_complete(bot, simulator):
    await forty_jobs_at_ten_per_second(bot, simulator)


async def test_an_uneven_network_still_gets_no_429(bot, simulator):
    # Requests reach toapis up to 0.4 s late, some later than others: a request that left
    # first may be counted after the next ones. Budgets count each until its answer.
    await forty_jobs_at_ten_per_second(bot, simulator, latency_jitter=0.4)


async def test_a_flooding_server_does_not_starve_another(bot, simulator):
    events = Recorder()
    tracker = await bot.start(events, begin=False)
    flood = [order(1, 100 + n % 3, n) for n in range(20)]
    other = [order(2, 200, n) for n in range(3)]
    await queue(tracker, flood + other)  # the other server asked last
    # Turns go to jobs that ask for one: held until all 23 ask (a loaded machine starts
    # their tasks slowly, and the fair order is about who waits, not who starts first).
    tracker.line.pause("every job asks first")
    await tracker.start()
    await eventually(lambda: tracker.line.asking == 23)
    tracker.line.resume()
    await all_done(tracker, 23)
    urls = sent_urls(simulator)
    assert len(urls) == 23 and simulator.submits == 23
    first = urls[:10]  # two windows of the submit budget
    assert sum("/g2-" in url for url in first) == 3, urls


async def test_restart_with_a_full_line_keeps_the_order_and_loses_nothing(bot, simulator):
    simulator.scenario.update(out_of_credit=True)
    events = Recorder()
    tracker = await bot.start(events)
    tracker.line.hold_retry = 3600  # held for the rest of this process
    orders = [order(1 + n % 2, 100 + n % 3, n) for n in range(12)]
    waiting = [asyncio.create_task(tracker.submit(*o)) for o in orders]
    await eventually(lambda: tracker.line.held is not None and len(tracker.line) == 12)
    before = [tracker.line.places()[j] for j in sorted(tracker.line.places())]
    await bot.stop()  # the process ends with every job still in line
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert simulator.submits == 0
    simulator.scenario.update(out_of_credit=False)
    simulator.requests.clear()
    again = await bot.start(Recorder(), begin=False)
    resumed = await again.jobs.active()
    assert [j.state for j in resumed] == [JobState.WAITING] * 12
    for job in resumed:
        again.line.add(job, ready=True)
    after = [again.line.places()[j.id] for j in resumed]
    assert [p.number for p in after] == [p.number for p in before]
    expected = [j.source_ref for j in fair_order(resumed)]
    for job in resumed:
        again.line.leave(job.id)
    await again.start()
    done = await all_done(again, 12)
    assert all(j.state is JobState.COMPLETED for j in done)
    assert simulator.submits == 12
    assert sent_urls(simulator)[:5] == expected[:5]  # the first window goes in line order


async def test_a_429_storm_slows_the_budget_and_loses_nothing(bot, simulator):
    simulator.scenario.update(rate_limit_submits=6, rate_limit_queries=20, retry_after=0.2)
    events = Recorder()
    tracker = await bot.start(events, begin=False)
    await queue(tracker, [order(1, 100 + n, n) for n in range(15)])
    await tracker.start()
    done = await all_done(tracker, 15)
    assert all(j.state is JobState.COMPLETED for j in done)
    assert simulator.submits == 15 and len(events.of("character")) == 15
    assert tracker.budgets is not None and tracker.budgets.submit.slowdowns >= 1
    assert tracker.budgets.query.slowdowns >= 1
    assert not events.of("failed")
    # No storm: each refused request was sent once, never retried inside the client.
    submits = sum(1 for r in simulator.requests if r.method == "POST" and r.path == SUBMIT)
    assert submits == 15 + 6


async def test_an_empty_balance_holds_the_line_and_resumes_when_topped_up(bot, simulator):
    simulator.scenario.update(out_of_credit=True)
    events = PlaceRecorder()
    tracker = await bot.start(events)
    tracker.line.hold_retry = 0.2
    waiting = [asyncio.create_task(tracker.submit(*order(1, 100 + n, n))) for n in range(6)]
    await eventually(lambda: tracker.line.held is not None)
    await eventually(lambda: any(p.note for ps in events.places.values() for p in ps))
    notes = {str(p.note) for ps in events.places.values() for p in ps if p.note}
    assert notes == {"waiting: the bot's toapis account needs a top-up"}
    stored = await tracker.jobs.list_for_guild(1)
    assert [j.state for j in stored] == [JobState.WAITING] * 6 and simulator.submits == 0
    simulator.scenario.update(out_of_credit=False)
    await asyncio.gather(*waiting)
    done = await all_done(tracker, 6)
    assert all(j.state is JobState.COMPLETED for j in done)
    assert simulator.submits == 6 and not events.of("failed")


BALANCE = "/v1/user/balance"


def balance_reads(simulator: Simulator) -> int:
    return sum(1 for r in simulator.requests if r.path == BALANCE)


def submit_requests(simulator: Simulator) -> int:
    return sum(1 for r in simulator.requests if r.method == "POST" and r.path == SUBMIT)


async def test_a_top_up_ends_a_402_hold_at_the_next_balance_read(bot, simulator):
    simulator.scenario.update(out_of_credit=True)
    events = PlaceRecorder()
    tracker = await bot.start(events)
    tracker.line.hold_retry = 3600  # the backoff alone would hold the line for an hour
    tracker.line.credit_check = 0.05  # 30 s in production
    waiting = [asyncio.create_task(tracker.submit(*order(1, 100 + n, n))) for n in range(4)]
    await eventually(lambda: tracker.line.held == "PaymentRequiredError")
    refused = submit_requests(simulator)
    await eventually(lambda: balance_reads(simulator) >= 3)  # read while held: still empty
    assert submit_requests(simulator) == refused and simulator.submits == 0
    topped_up = len(simulator.requests)
    simulator.scenario.update(out_of_credit=False)
    await asyncio.gather(*waiting)
    done = await all_done(tracker, 4)
    assert all(j.state is JobState.COMPLETED for j in done) and not events.of("failed")
    after = [(r.method, r.path) for r in simulator.requests[topped_up:]]
    sent = [step for step in after if step in (("GET", BALANCE), ("POST", SUBMIT))]
    # The read after the top-up saw the credit, then every waiting job was sent.
    assert sent[0] == ("GET", BALANCE) and sent[1:] == [("POST", SUBMIT)] * 4, sent
    assert tracker.line.held is None and simulator.submits == 4


async def test_a_failing_balance_read_changes_nothing(bot, simulator):
    simulator.scenario.update(out_of_credit=True)
    tracker = await bot.start(Recorder())
    tracker.line.hold_retry = 3600
    tracker.line.credit_check = 0.05
    waiting = asyncio.create_task(tracker.submit(*order(1, 100)))
    await eventually(lambda: tracker.line.held == "PaymentRequiredError")
    # Topped up, but the balance cannot be read (the key is refused for a while).
    simulator.scenario.update(out_of_credit=False, api_key="rotated-key")
    reads = balance_reads(simulator)
    await eventually(lambda: balance_reads(simulator) >= reads + 3)
    assert tracker.line.held == "PaymentRequiredError" and submit_requests(simulator) == 1
    simulator.scenario.update(api_key="sim-key")  # the next read that works ends the hold
    await waiting
    (job,) = await all_done(tracker, 1)
    assert job.state is JobState.COMPLETED and simulator.submits == 1


async def test_credit_that_does_not_change_is_tried_once_not_every_read(bot, simulator):
    # toapis answers 402 although the account shows credit (a limit of the key, say).
    refusal = {"error": {"code": 402, "message": "Insufficient quota for this key"}}
    simulator.scenario.update(submit_status=[402, refusal])
    tracker = await bot.start(Recorder())
    tracker.line.hold_retry = 3600
    tracker.line.credit_check = 0.05
    waiting = asyncio.create_task(tracker.submit(*order(1, 100)))
    await eventually(lambda: submit_requests(simulator) == 2)  # refused, tried once more
    reads = balance_reads(simulator)
    await eventually(lambda: balance_reads(simulator) >= reads + 5)
    assert submit_requests(simulator) == 2 and tracker.line.held == "PaymentRequiredError"
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
