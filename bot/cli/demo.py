"""`python -m bot demo`: the whole job offline, with no account and no setup.

In a temporary folder of its own (its own database, never the bot's), it starts the toapis
simulator on a free loopback port, makes a short sample clip with picture and sound
(bundled ffmpeg), serves it on loopback, creates a character from it through the same core
as Discord with visible progress, prints the card, saves the avatar in the current folder,
lists the characters, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TextIO

from aiohttp import web

from bot.cli.console import CLI_GUILD, PrintingListener, submit_and_follow
from bot.media.orders import plan_order
from bot.media.page_checks import ffmpeg_path
from bot.runtime.config import load_settings
from bot.runtime.container import open_core
from bot.simulator import Scenario, Simulator

CLIP_SECONDS = 6
AVATAR_FILE = "sora-demo-avatar"


def make_sample_clip(path: Path) -> Path:
    """A short test-pattern video with a tone, made with ffmpeg (blocking)."""
    seconds = str(CLIP_SECONDS)
    command = [
        ffmpeg_path(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size=320x240:rate=25:duration={seconds}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=330:sample_rate=44100:duration={seconds}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-t",
        seconds,
        "-movflags",
        "+faststart",
        str(path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make the sample clip: {result.stderr.strip()}")
    return path


async def _serve_folder(folder: Path) -> tuple[web.AppRunner, str]:
    """Serve `folder` on a free loopback port; returns the runner and the base URL."""
    app = web.Application()
    app.router.add_static("/", folder)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def run_demo(out: TextIO, *, here: Path | None = None, pace: bool = True) -> int:
    """Run the demo; returns the exit code (0 when a character came out)."""
    began = time.monotonic()
    here = here or Path.cwd()
    workdir = Path(tempfile.mkdtemp(prefix="sora-demo-"))

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    try:
        say(f"Sora Character Bot demo: everything runs offline in {workdir}")
        media = workdir / "media"
        media.mkdir()
        clip = await asyncio.to_thread(make_sample_clip, media / "sample.mp4")
        say(f"made a {CLIP_SECONDS} s sample clip with picture and sound ({clip.name})")
        media_server, media_url = await _serve_folder(media)
        scenario = Scenario()
        if pace:  # so the progress bar visibly moves: about 8 s from submit to card
            scenario.update(
                queued_for=1.5, step_interval=1.0, progress_steps=[10, 25, 40, 55, 70, 85]
            )
        simulator = Simulator(scenario)
        try:
            await simulator.start()
            say(f"started the toapis simulator at {simulator.base_url} (no account needed)")
            settings = load_settings(
                toapis_base_url=simulator.base_url,
                toapis_api_key=scenario.api_key,
                database_url=f"sqlite:///{workdir / 'demo.sqlite3'}",
                allow_private_urls=True,  # the simulator and the clip live on 127.0.0.1
                poll_interval_seconds=0.5,
            )
            listener = PrintingListener(out)
            core = await open_core(settings, listener)
            try:
                order = plan_order(
                    url=f"{media_url}/{clip.name}",
                    start=1,
                    end=3,
                    allow_private=True,
                )
                code = await submit_and_follow(core, order, CLI_GUILD, listener, out)
                if code != 0 or not listener.characters:
                    say("the demo did not produce a character (see above)")
                    return 1
                character = listener.characters[0]
                if character.avatar:
                    suffix = ".png" if character.avatar_mime == "image/png" else ".jpg"
                    saved = here / f"{AVATAR_FILE}{suffix}"
                    await asyncio.to_thread(saved.write_bytes, character.avatar)
                    say(f"saved the character's avatar to {saved}")
                stored = await core.characters.list_for_guild(CLI_GUILD)
                say(f"{len(stored)} character(s) stored in the demo database:")
                for item in stored:
                    say(f"- {item.display_name}  @{item.username}  ({item.character_id})")
            finally:
                await core.close()
        finally:
            await simulator.stop()
            await media_server.cleanup()
        say(
            f"done in {time.monotonic() - began:.0f} s; everything it started is stopped. "
            "Next: put the bot in your server (README, 'Put it in your Discord server')."
        )
        return 0
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
