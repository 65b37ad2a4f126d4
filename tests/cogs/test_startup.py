"""Start-up of `python -m bot` as a real process: the heartbeat a running bot keeps (and
`doctor --quick` reads), one line and exit code 1 when Discord is unreachable or refuses
the token, a warning only when toapis is unreachable; no voice warnings."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path
from typing import Any

from storage.schema import SCHEMA_VERSION
from tests.cogs.test_doctor import BALANCE, PORTAL, UNREACHABLE_FIX, closed_port, doctor
from tests.cogs.test_smoke_process import bot_env, launch, until


async def test_doctor_sees_the_running_bot_and_its_heartbeat(tmp_path, fake_discord, simulator):
    env = {**bot_env(tmp_path, fake_discord, simulator), "HEARTBEAT_INTERVAL_SECONDS": "0.2"}
    heartbeat = tmp_path / "heartbeat"
    code, out, _ = await doctor(tmp_path, env, "--quick")
    assert (code, out) == (
        1,
        f"FAIL  heartbeat: no {heartbeat}: the bot is not connected to Discord -> see the "
        "bot's log; start it with python -m bot\n",
    )
    bot = await launch(tmp_path, env, "bot.log")
    try:
        await until(lambda: fake_discord.gateway.identify_count == 1, "IDENTIFY")
        await until(heartbeat.exists, "the heartbeat file")
        first = heartbeat.stat().st_mtime_ns
        await until(lambda: heartbeat.stat().st_mtime_ns > first, "a renewed heartbeat")
        code, out, _ = await doctor(tmp_path, env)
        assert code == 0, out
        assert out.splitlines()[2] == (
            f"ok    database: {tmp_path / 'bot.sqlite3'}, schema version "
            f"{SCHEMA_VERSION} (up to date), bot running (pid {bot.pid})"
        )
        code, out, _ = await doctor(tmp_path, env, "--quick")
        assert (code, out) == (0, f"ok    heartbeat: {heartbeat} is 0 s old (at most 0.6 s)\n")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), timeout=10) == 0
    assert not heartbeat.exists()  # a stopped bot is not healthy
    code, _, _ = await doctor(tmp_path, env, "--quick")
    assert code == 1
    log = (tmp_path / "bot.log").read_text()
    assert "PyNaCl" not in log and "davey" not in log  # no voice, no voice warnings
    assert "Traceback" not in log


async def start_and_fail(tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Start `python -m bot`, expect exit code 1; its log lines."""
    process = await launch(tmp_path, {**env, "LOG_LEVEL": "WARNING"}, "run.log")
    assert await asyncio.wait_for(process.wait(), timeout=60) == 1
    return (tmp_path / "run.log").read_text().splitlines()


async def test_run_stops_with_one_line_when_discord_is_unreachable(
    tmp_path, fake_discord, simulator
):
    env = bot_env(tmp_path, fake_discord, simulator)
    port = closed_port()
    tls = fake_discord.base_url.replace("http://", "https://")
    cases: list[tuple[str, str]] = [
        (f"http://127.0.0.1:{port}/api/v10", re.escape("connection refused")),
        ("http://discord.doctor-test.invalid/api/v10", r"DNS lookup failed \([^)]+\)"),
        (tls, r"TLS handshake failed \([^)]+\)"),
    ]
    for base, cause in cases:
        lines = await start_and_fail(tmp_path, {**env, "DISCORD_API_BASE_URL": base})
        assert len(lines) == 1, lines
        expected = re.escape(f"cannot reach Discord at {base}/users/@me: ") + cause
        assert re.search(f"{expected} \\({re.escape(UNREACHABLE_FIX)}\\)$", lines[0]), lines
        assert "ERROR" in lines[0]
    assert fake_discord.gateway.identify_count == 0


async def test_run_stops_with_one_line_when_discord_refuses_the_token(
    tmp_path, fake_discord, simulator
):
    fake_discord.fail_next("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    lines = await start_and_fail(tmp_path, bot_env(tmp_path, fake_discord, simulator))
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f"Discord refused DISCORD_TOKEN (HTTP 401 from {fake_discord.base_url}/users/@me) "
        f"(reset the token at {PORTAL} (your app, Bot, Reset Token) and set DISCORD_TOKEN)"
    )
    assert fake_discord.gateway.identify_count == 0


async def test_run_only_warns_when_toapis_is_unreachable(tmp_path, fake_discord, simulator):
    port = closed_port()
    env: dict[str, Any] = {
        **bot_env(tmp_path, fake_discord, simulator),
        "TOAPIS_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "INFO",
    }
    bot = await launch(tmp_path, env, "run.log")
    try:
        await until(lambda: fake_discord.gateway.identify_count == 1, "IDENTIFY")
        log = tmp_path / "run.log"
        await until(lambda: "cannot reach toapis" in log.read_text(), "the warning")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), timeout=10) == 0
    warnings = [line for line in log.read_text().splitlines() if " WARNING " in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].endswith(
        f"cannot reach toapis at http://127.0.0.1:{port}{BALANCE}: connection refused (check the "
        "network and TOAPIS_BASE_URL); the bot runs, jobs wait for toapis"
    )
    assert "Traceback" not in log.read_text()


async def test_health_answers_200_while_connected_and_the_healthcheck_uses_it(
    tmp_path, fake_discord, simulator, unused_tcp_port
):
    import httpx

    env = {**bot_env(tmp_path, fake_discord, simulator), "HTTP_PORT": str(unused_tcp_port)}
    bot = await launch(tmp_path, env, "bot.log")
    url = f"http://127.0.0.1:{unused_tcp_port}/health"
    try:
        await until(lambda: fake_discord.gateway.identify_count == 1, "IDENTIFY")
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    answer = await client.get(url)
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    break
                await asyncio.sleep(0.05)
        assert answer.status_code == 200 and answer.json() == {"status": "ok", "problems": []}
        code, out, _ = await doctor(tmp_path, env, "--quick")
        assert (code, out) == (0, f"ok    health: {url} answers 200\n")
    finally:
        bot.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bot.wait(), timeout=10) == 0
    code, out, _ = await doctor(tmp_path, env, "--quick")
    assert code == 1 and out.startswith(f"FAIL  health: {url} did not answer")
