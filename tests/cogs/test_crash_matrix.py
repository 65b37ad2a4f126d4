"""SIGKILL at every point of a job (issue 7): `python -m bot` as a real process.

One process holds four jobs, each stopped at a different point, and is killed once:

- A, before submit: its create request is in flight (the simulator answers after 3 s);
- B, after submit, while queued at toapis;
- C, mid-poll, in progress (the task hangs);
- D, completed and stored, but its card edit is held at the fake Discord (and dropped).

After a restart: A shows "Unknown" with a Retry button and is not sent again; B, C and D
each get exactly one card (in their own reply, no new message) and one stored character.
The database file is read directly with sqlite3.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

from tests.cogs.conftest import roomy_limits
from tests.cogs.test_character_create import is_card
from tests.cogs.test_smoke_process import bot_env, launch, until
from tests.fakes import APP_ID, CHANNEL_ID, USER_ID, FakeDiscord, payloads
from tests.fakes.seen import buttons, shown_fields, shown_text

SUBMIT = "/v1/videos/generations"
# Edited with the interaction token while it is valid, with the bot token after a restart.
REPLY = rf"(?:/channels/{CHANNEL_ID}|/webhooks/{APP_ID}/[^/]+)/messages/%d"


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql)]


def job_rows(db: Path) -> dict[str, dict[str, Any]]:
    """Jobs by the start of their range (each job of the test has its own)."""
    found = rows(db, "SELECT * FROM jobs ORDER BY id")
    return {f"{job['range_start']:g}": job for job in found}


def characters_of(db: Path, job_id: int) -> list[dict[str, Any]]:
    return rows(db, f"SELECT * FROM characters WHERE job_id = {int(job_id)}")  # noqa: S608


def posted_creates(simulator: Any) -> list[Any]:
    return [r for r in simulator.requests if r.method == "POST" and r.path == SUBMIT]


async def create(fake: FakeDiscord, url: str, start: int) -> int:
    """Dispatch `/character create` through the gateway; the reply's message id."""
    command = payloads.slash_command(
        "create", {"start": str(start), "end": str(start + 1), "url": url}, group="character"
    )
    await fake.gateway.dispatch("INTERACTION_CREATE", command)
    thread = fake.store.thread(command["token"])
    await until(lambda: thread.original_id is not None, "the deferred reply")
    assert thread.original_id is not None
    return thread.original_id


def card_edits(fake: FakeDiscord, message_id: int) -> list[Any]:
    return [c for c in fake.calls_to("PATCH", REPLY % message_id) if is_card(c)]


def shows_card(fake: FakeDiscord, message_id: int) -> bool:
    message = fake.message(message_id)
    return message is not None and "Character id" in shown_fields(message)


async def test_sigkill_at_every_point_of_a_job(
    tmp_path, fake_discord, simulator, media_server, short_video
):
    fake, sim, scenario = fake_discord, simulator, simulator.scenario
    url = f"{media_server}/{short_video.name}"
    env = bot_env(tmp_path, fake, sim)
    db = tmp_path / "bot.sqlite3"
    gateway = fake.gateway
    await roomy_limits(db)  # one member runs four jobs at once here

    first = await launch(tmp_path, env, "crash-first.log")
    hold = None
    try:
        await until(lambda: gateway.identify_count == 1 and fake.sync_count == 1, "the first start")
        scenario.update(hang=True, queued_for=60)
        b_reply = await create(fake, url, 1)
        await until(lambda: len(sim.tasks) == 1, "B accepted")
        scenario.update(queued_for=0.05)
        c_reply = await create(fake, url, 2)
        d_reply = await create(fake, url, 3)
        await until(lambda: len(sim.tasks) == 3, "C and D accepted")
        by_start = {task.start: task for task in sim.tasks.values()}
        b_task, c_task, d_task = by_start[1.0], by_start[2.0], by_start[3.0]
        await until(lambda: c_task.status == d_task.status == "in_progress", "C and D in progress")
        await until(
            lambda: job_rows(db).get("2", {}).get("state") == "in_progress",
            "C stored as in progress",
        )
        await until(lambda: b_task.status == "queued" and len(sim.requests) >= 6, "B polled")

        # D completes; its card edit reaches Discord but is held there.
        hold = fake.hold_next("PATCH", REPLY % d_reply, is_card)
        sim.complete_task(d_task.id)
        await asyncio.wait_for(hold.arrived.wait(), timeout=10)

        # A's create request is in flight when the process dies.
        scenario.update(latency=3)
        a_reply = await create(fake, url, 0)
        await until(
            lambda: any(r.body.get("timestamps") == "0,1" for r in posted_creates(sim)),
            "A's create request",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
        scenario.update(latency=0)
        if hold is not None:
            hold.release(apply=False)  # the edit never landed

    # What the dead process left behind.
    jobs = job_rows(db)
    assert set(jobs) == {"0", "1", "2", "3"}
    assert jobs["0"]["state"] == "submitting" and jobs["0"]["task_id"] is None
    assert jobs["1"]["state"] == "queued" and jobs["1"]["task_id"] == b_task.id
    assert jobs["2"]["state"] == "in_progress" and jobs["2"]["task_id"] == c_task.id
    assert jobs["3"]["state"] == "completed" and jobs["3"]["announced_at"] is None
    [d_character] = characters_of(db, jobs["3"]["id"])
    assert d_character["announced_at"] is None
    assert not shows_card(fake, d_reply)

    scenario.update(hang=False)  # C finishes on its own
    second = await launch(tmp_path, env, "crash-second.log")
    try:
        await until(lambda: gateway.identify_count == 2, "IDENTIFY after restart")
        await until(lambda: len(rows(db, "SELECT id FROM jobs WHERE state = 'unknown'")) == 1, "A")
        sim.complete_task(b_task.id)  # B leaves the queue after the restart
        await until(
            lambda: all(shows_card(fake, m) for m in (b_reply, c_reply, d_reply)), "3 cards"
        )
        await until(lambda: "Unknown" in shown_text(fake.message(a_reply) or {}), "A")
        await until(
            lambda: all(j["announced_at"] is not None for j in job_rows(db).values()),
            "every job announced",
        )
        await until(lambda: len(fake.messages_in(CHANNEL_ID)) >= 7, "4 replies and 3 pings")
    finally:
        # SIGTERM after several resumed jobs (several toapis connections open): it must
        # close everything and exit 0 within a few seconds.
        second.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(second.wait(), timeout=10)
        except TimeoutError:
            second.send_signal(signal.SIGKILL)
            await second.wait()
            raise AssertionError("SIGTERM did not stop the bot within 10 s") from None
    assert code == 0

    # A: shown as unknown with a Retry button, never sent again.
    unknown = fake.message(a_reply)
    assert unknown is not None and "may or may not" in shown_text(unknown)
    assert [b["label"] for b in buttons(unknown)] == ["Retry"]
    assert len(posted_creates(sim)) == 4  # A, B, C, D: one create request each
    assert sim.submits in (3, 4)  # A's request may have been accepted after the crash
    jobs = job_rows(db)
    assert jobs["0"]["state"] == "unknown" and jobs["0"]["task_id"] is None
    assert characters_of(db, jobs["0"]["id"]) == []

    # B, C, D: one stored character and one card each, in their own reply.
    finished = (("1", b_reply, b_task), ("2", c_reply, c_task), ("3", d_reply, d_task))
    for start, reply, task in finished:
        job = jobs[start]
        assert job["state"] == "completed" and job["task_id"] == task.id
        [character] = characters_of(db, job["id"])
        assert character["announced_at"] is not None and character["task_id"] == task.id
        assert shows_card(fake, reply) and character["character_id"] in shown_text(
            fake.message(reply) or {}
        )
    assert len(card_edits(fake, b_reply)) == 1 and len(card_edits(fake, c_reply)) == 1
    assert len(card_edits(fake, d_reply)) == 2  # the dropped one, then the restart's
    new_cards = [c for c in fake.calls_to("POST", r"/channels/\d+/messages") if is_card(c)]
    assert new_cards == []
    # One "your character is ready" ping per finished job, no more.
    pinged = [
        m
        for m in fake.messages_in(CHANNEL_ID)
        if m.get("content", "").startswith(f"<@{USER_ID}>") and "ready" in m["content"]
    ]
    assert len(pinged) == 3, pinged
    assert int(rows(db, "SELECT count(*) AS n FROM characters")[0]["n"]) == 3
