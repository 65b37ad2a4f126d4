"""Two `python -m bot` processes on one PostgreSQL database; one is SIGKILLed (issue 22).

The killed process holds jobs waiting in its submit line (the line is held: the account
is out of credit) and jobs whose video it is preparing (their links hang at the media
server). The other process takes them over: the waiting ones are sent in their turn, the
ones it can fetch again (links) are prepared again and sent, and the one it cannot (an
attachment, whose link only the dead process knew) ends with a plain reason on its reply,
never sent. Every member gets a card or a reason.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from storage import Database, open_database
from tests.cogs.test_smoke_process import bot_env, launch, until
from tests.fakes import FakeDiscord, payloads
from tests.fakes.seen import shown_text
from tests.storage.backends import postgres_schema, skip_without_postgres

SETTLED = 90.0  # generous: two bot processes and ffmpeg on a loaded 2-core machine


class HeldMedia:
    """A loopback media server whose answers wait until `open` is set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.open = asyncio.Event()
        self.asked: set[str] = set()  # each held link has its own query
        self.base_url = ""

    @web.middleware
    async def hold(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.asked.add(request.path_qs)
        await self.open.wait()
        return await handler(request)


@pytest_asyncio.fixture
async def held_media(media_dir: Path) -> AsyncIterator[HeldMedia]:
    media = HeldMedia(media_dir)
    app = web.Application(middlewares=[media.hold])
    app.router.add_static("/", media_dir)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    media.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield media
    finally:
        media.open.set()
        await runner.cleanup()


async def create(fake: FakeDiscord, user_id: int, start: int, **source: Any) -> int:
    """One member's `/character create` through the gateway; the reply's message id."""
    options = {"start": str(start), "end": str(start + 1), **source.pop("options", {})}
    command = payloads.slash_command(
        "create", options, group="character", user_id=user_id, **source
    )
    await fake.gateway.dispatch("INTERACTION_CREATE", command)
    thread = fake.store.thread(command["token"])
    await until(lambda: thread.original_id is not None, "the deferred reply", 30)
    assert thread.original_id is not None
    return thread.original_id


async def until_true(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll an async check (generously: the machine may be loaded)."""
    deadline = asyncio.get_running_loop().time() + SETTLED
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def attachment_at(url: str, video: Path) -> dict[str, Any]:
    """An attachment whose link is `url` (it hangs like the links of the test)."""
    return payloads.attachment(url=url, size=video.stat().st_size, filename="phone.mp4")


def shown(fake: FakeDiscord, message_id: int) -> str:
    return shown_text(fake.message(message_id) or {})


async def jobs_by_message(db: Database) -> dict[int, dict[str, Any]]:
    rows = await db.fetchall("SELECT * FROM jobs ORDER BY id")
    return {int(row["message_id"]): dict(row) for row in rows if row["message_id"] is not None}


@pytest.mark.timeout(240)
async def test_jobs_of_a_killed_process_are_sent_prepared_again_or_explained(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    simulator: Any,
    media_server: str,
    held_media: HeldMedia,
    short_video: Path,
) -> None:
    skip_without_postgres()
    fake, sim = fake_discord, simulator
    gateway = fake.gateway
    async with postgres_schema() as url:
        env = bot_env(tmp_path, fake, sim)
        env.update(DATABASE_URL=url, LEASE_SECONDS="3", MEDIA_WORKERS="4", LOG_LEVEL="INFO")
        db = await open_database(url)  # migrated once, before the processes start
        first = await launch(tmp_path, env, "first.log")
        second = None
        try:
            await until(lambda: gateway.identify_count == 1, "the first start", 60)
            # Two members' jobs wait in the first process's line (held: no credit).
            sim.scenario.update(out_of_credit=True)
            video = f"{media_server}/{short_video.name}"
            waiting = [await create(fake, 101 + n, 1 + n, options={"url": video}) for n in range(2)]

            async def held_in_line() -> bool:
                jobs = await jobs_by_message(db)
                states = [jobs.get(m, {}) for m in waiting]
                return all(job.get("state") == "waiting" for job in states) and any(
                    job["error_code"] == "PaymentRequiredError" for job in states
                )

            await until_true(held_in_line, "the line held with two jobs in it")
            # Three more are being prepared when it dies: two links, one attachment.
            held = f"{held_media.base_url}/{short_video.name}"
            preparing = [
                await create(fake, 201 + n, 1 + n, options={"url": f"{held}?n={n}"})
                for n in range(2)
            ]
            attachment = attachment_at(f"{held}?n=2", short_video)
            preparing.append(
                await create(fake, 203, 1, attachments={"video": attachment}, options={})
            )
            await until(lambda: len(held_media.asked) == 3, "three videos being fetched", 60)

            async def all_preparing() -> bool:
                jobs = await jobs_by_message(db)
                return all(jobs.get(m, {}).get("state") == "preparing" for m in preparing)

            await until_true(all_preparing, "three jobs preparing")
            second = await launch(tmp_path, env, "second.log")
            await until(lambda: gateway.identify_count == 2, "the second start", 60)
        finally:
            first.send_signal(signal.SIGKILL)
            await first.wait()
        try:
            sim.scenario.update(out_of_credit=False)
            held_media.open.set()
            cards = [*waiting, *preparing[:2]]

            def told() -> bool:
                return all("Character id" in shown(fake, m) for m in cards) and (
                    "nothing was charged" in shown(fake, preparing[2])
                )

            try:
                await until(told, "a card or a reason on every reply", SETTLED)
            except AssertionError:
                seen = {m: shown(fake, m)[:300] for m in [*cards, preparing[2]]}
                raise AssertionError(f"not every member was told: {seen}") from None
        finally:
            if second is not None:
                second.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(second.wait(), 15)
                except TimeoutError:
                    second.kill()
                    await second.wait()
            jobs = await jobs_by_message(db)
            await db.close()

    # Every job was accepted once, the attachment never sent (nothing charged).
    accepted = {jobs[m]["task_id"] for m in cards}
    assert None not in accepted and len(accepted) == len(sim.tasks) == 4
    lost = jobs[preparing[2]]
    assert lost["state"] == "failed" and lost["task_id"] is None and lost["announced_at"]
