"""A `create` from the command line while a bot runs on the same database: the bot never
takes over the job the command is still preparing, however long the video takes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.jobs.again import PrepareAgain
from bot.media.intake import MediaIntake
from bot.media.workers import MediaWorkers
from tests.core.test_cli import run_bot_cli
from tests.jobs.test_tracker import FAST, Harness, Recorder

SUBMIT = "/v1/videos/generations"
LEASE = 3.0  # the shortest lease the settings take
SLOW_FIRST_READ = 2.5 * LEASE  # the video's first read, longer than two leases


async def slow_media(video: Path) -> tuple[web.AppRunner, str]:
    """Serves `video`; the first request waits `SLOW_FIRST_READ` seconds."""
    waited: list[bool] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        if not waited:
            waited.append(True)
            await asyncio.sleep(SLOW_FIRST_READ)
        return web.FileResponse(video)

    app = web.Application()
    app.router.add_get(f"/{video.name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/{video.name}"


async def test_a_running_bot_never_takes_over_a_job_the_command_line_is_preparing(
    tmp_path: Path, simulator: Any, short_video: Path
) -> None:
    harness = Harness(tmp_path / "cli.sqlite3", simulator)
    runner, url = await slow_media(short_video)
    try:
        # The bot: it sweeps often for jobs whose lease ran out and prepares them again.
        bot = await harness.tracker(
            Recorder(), replace(FAST, sweep_interval=0.1, sweep_retry=0.1, lease=LEASE)
        )
        intake = MediaIntake(bot.provider, allow_private=True, workers=MediaWorkers.create(1))
        bot.preparer = PrepareAgain(intake, allow_private=True)
        await bot.start()
        code, out, err = await run_bot_cli(
            tmp_path,
            simulator,
            "create",
            *("--url", url, "--start", "1", "--end", "3", "--guild", "7"),
            # Sora alone: this bot is a bare tracker with no binder, so a binding job it
            # claimed after the card could never be sent (every real process has one).
            extra={"LEASE_SECONDS": str(LEASE), "CHARACTER_ENGINES": "sora-2"},
        )
    finally:
        await harness.close()
        await runner.cleanup()
    assert code == 0, (out, err)
    assert "character ready:" in out
    creates = [r for r in simulator.requests if r.method == "POST" and r.path == SUBMIT]
    assert len(creates) == 1  # sent once, by the command line
