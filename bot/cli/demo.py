"""`python -m bot demo`: the whole job offline, with no account and no setup.

In a temporary folder of its own (its own database, never the bot's), it starts the toapis
simulator on a free loopback port, makes a short sample clip with picture and sound
(bundled ffmpeg), serves it on loopback and runs the same core as Discord against them:
1. a character bound to every engine: Sora's card, then Seedance 2 and Vidu Q3 ready;
2. with the simulator's sora family retired, a second character, still made for Seedance 2
   and Vidu Q3, with the plain reason for Sora;
3. a video with that character on seedance-2 and one on viduq3 (the prompts as sent).
It saves the second character's avatar (a still of the clip) in the current folder, lists
the characters, and stops everything it started.
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

from bot.cli.console import (
    CLI_GUILD,
    PrintingListener,
    character_row,
    cli_origin,
    follow,
    submit_and_follow,
)
from bot.cli.videos import start_video
from bot.domain.records import Character, JobState
from bot.jobs.binding import ENGINE_ORDER
from bot.media.orders import plan_order
from bot.media.page_checks import ffmpeg_path
from bot.runtime.container import Core, open_core
from bot.runtime.settings_check import load_settings
from bot.simulator import Scenario, Simulator

CLIP_SECONDS = 6
AVATAR_FILE = "sora-demo-avatar"
SECOND_NAME = "Test Pattern"  # the name `create --name` gives where Sora does not name it
VIDEOS = (("seedance-2", "{name} waves at the camera"), ("viduq3", "{name} dances in the rain"))


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
    """Run the demo; returns the exit code (0 when every step came out)."""
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
                queued_for=1.5,
                step_interval=1.0,
                progress_steps=[10, 25, 40, 55, 70, 85],
                asset_delay=1.5,
            )
        simulator = Simulator(scenario)
        try:
            await simulator.start()
            say(f"started the toapis simulator at {simulator.base_url} (no account needed)")
            settings = load_settings(
                toapis_base_url=simulator.base_url,
                toapis_api_key=scenario.api_key,
                database_url=f"sqlite:///{workdir / 'demo.sqlite3'}",
                data_dir=workdir,  # the likenesses too: never the bot's own folder
                likeness_store=None,
                character_engines=",".join(ENGINE_ORDER),
                allow_private_urls=True,  # the simulator and the clip live on 127.0.0.1
                poll_interval_seconds=0.5,
            )
            listener = PrintingListener(out, placeholder_avatars=True)
            core = await open_core(settings, listener)
            try:
                code = await _steps(
                    core, simulator, listener, f"{media_url}/{clip.name}", here, out
                )
            finally:
                await core.close()
        finally:
            await simulator.stop()
            await media_server.cleanup()
        if code != 0:
            return code
        say(
            f"done in {time.monotonic() - began:.0f} s; everything it started is stopped. "
            "Next: put the bot in your server (README, 'Put it in your Discord server')."
        )
        return 0
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)


async def _steps(
    core: Core,
    simulator: Simulator,
    listener: PrintingListener,
    clip_url: str,
    here: Path,
    out: TextIO,
) -> int:
    """The three steps, each on what the one before made (0: all came out)."""

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    say("\n1. A character on every engine (Sora 2 names it; Seedance 2 and Vidu Q3 follow)")
    if await _create(core, listener, clip_url, out, name=None) is None:
        return 1
    say("\n2. Sora 2 retired at the video service (the simulator's sora_retired switch)")
    simulator.scenario.update(
        sora_retired=True, queued_for=0.2, step_interval=0.5, progress_steps=[30, 60, 90]
    )
    second = await _create(core, listener, clip_url, out, name=SECOND_NAME)
    if second is None:
        return 1
    await _save_avatar(second, here, out)
    say(f"\n3. A video with {second.display_name} on each engine it works with")
    for model, prompt in VIDEOS:
        if not await _video(core, listener, second, model, prompt, out):
            return 1
    stored = await core.characters.with_bindings(await core.characters.list_for_guild(CLI_GUILD))
    say(f"\n{len(stored)} character(s) stored in the demo database:")
    for item in stored:
        say(character_row(item))
    return 0


async def _create(
    core: Core, listener: PrintingListener, clip_url: str, out: TextIO, *, name: str | None
) -> Character | None:
    """A character from 1-3 s of the clip, followed until its engines are bound; the
    character as stored then (None: the step failed, said above)."""
    made = len(listener.characters)
    order = plan_order(url=clip_url, start=1, end=3, allow_private=True)
    origin = await cli_origin(core, CLI_GUILD, name)
    code = await submit_and_follow(core, order, origin, listener, out)
    if code != 0 or len(listener.characters) == made:
        print("the demo did not produce a character (see above)", file=out, flush=True)
        return None
    character = listener.characters[-1]
    return await core.characters.get(CLI_GUILD, character.character_id)


async def _save_avatar(character: Character, here: Path, out: TextIO) -> None:
    """Save the avatar in `here`, next to (never over) one an earlier run saved."""
    if not character.avatar:
        return
    suffix = ".png" if character.avatar_mime == "image/png" else ".jpg"
    saved = here / f"{AVATAR_FILE}{suffix}"
    number = 1
    while saved.exists():
        number += 1
        saved = here / f"{AVATAR_FILE}-{number}{suffix}"
    await asyncio.to_thread(saved.write_bytes, character.avatar)
    print(
        f"saved {character.display_name}'s avatar (a still of the clip) to {saved}",
        file=out,
        flush=True,
    )


async def _video(
    core: Core,
    listener: PrintingListener,
    character: Character,
    model: str,
    prompt: str,
    out: TextIO,
) -> bool:
    """One video with `character` on `model`, followed to its end (False: it failed)."""
    made = len(listener.videos)
    wanted = prompt.format(name=character.display_name)
    job = await start_video(core, CLI_GUILD, model, wanted, [character], out)
    final = await follow(core, job, 60.0) if job is not None else None
    if final is None or final.state is not JobState.COMPLETED or len(listener.videos) == made:
        print(f"the {model} video did not come out (see above)", file=out, flush=True)
        return False
    return True
