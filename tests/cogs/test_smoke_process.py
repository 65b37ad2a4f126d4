"""`python -m bot` as a real process against the fake gateway, fake REST and the simulator:
configuration, start-up, sync, a job, SIGKILL mid-job, resume, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tests.cogs.conftest import BOT_TOKEN
from tests.cogs.test_character_create import is_card
from tests.fakes import CHANNEL_ID, FakeDiscord, payloads


def bot_env(tmp_path: Path, fake: FakeDiscord, simulator: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env.update(
        DISCORD_TOKEN=BOT_TOKEN,
        TOAPIS_API_KEY=simulator.scenario.api_key,
        TOAPIS_BASE_URL=simulator.base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        DISCORD_API_BASE_URL=fake.base_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        POLL_INTERVAL_SECONDS="0.05",
        ALLOW_PRIVATE_URLS="true",
        LOG_LEVEL="DEBUG",
        CHARACTER_ENGINES="sora-2",  # as before engines (tests/cogs/test_engines.py: all)
    )
    return env


async def launch(tmp_path: Path, env: dict[str, str], log_name: str) -> asyncio.subprocess.Process:
    log = (tmp_path / log_name).open("wb")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )


async def until(check: Any, what: str, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_process_lifecycle(tmp_path, fake_discord, simulator, media_server, short_video):
    env = bot_env(tmp_path, fake_discord, simulator)
    gateway = fake_discord.gateway
    simulator.scenario.update(hang=True)

    first = await launch(tmp_path, env, "first.log")
    try:
        await until(lambda: gateway.identify_count == 1, "IDENTIFY")
        await until(lambda: fake_discord.sync_count == 1, "command sync")
        command = payloads.slash_command(
            "create",
            {"start": "1", "end": "3", "url": f"{media_server}/{short_video.name}"},
            group="character",
        )
        await until(lambda: bool(gateway.sessions), "a gateway session")
        await gateway.dispatch("INTERACTION_CREATE", command)
        await until(
            lambda: any("Extracting" in str(c.json) for c in fake_discord.calls), "a progress edit"
        )
    finally:
        first.send_signal(signal.SIGKILL)  # no chance to clean up
        await first.wait()

    simulator.scenario.update(hang=False)
    second = await launch(tmp_path, env, "second.log")
    try:
        await until(lambda: gateway.identify_count == 2, "IDENTIFY after restart")
        await until(
            lambda: any(
                is_card(c)
                for c in fake_discord.calls_to("PATCH", rf"/channels/{CHANNEL_ID}/messages/\d+")
            ),
            "the card",
        )
        assert fake_discord.sync_count == 1  # unchanged commands are not synced again
        assert simulator.submits == 1
    finally:
        second.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(second.wait(), timeout=10)
    assert code == 0
    cards = [
        c
        for c in fake_discord.calls_to("PATCH", rf"/channels/{CHANNEL_ID}/messages/\d+")
        if is_card(c)
    ]
    assert len(cards) == 1
    logs = (tmp_path / "first.log").read_bytes() + (tmp_path / "second.log").read_bytes()
    assert BOT_TOKEN.encode() not in logs
    assert simulator.scenario.api_key.encode() not in logs
    assert command["token"].encode() not in logs
    assert b"Traceback" not in logs
