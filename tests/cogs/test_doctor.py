"""`python -m bot doctor` and the start-up checks of `python -m bot`, as real processes
against the fake Discord, the toapis simulator, closed ports and unresolvable hosts."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.runtime.permissions import PERMISSIONS_INTEGER
from tests.cogs.test_smoke_process import bot_env
from tests.fakes import BOT_ID, GUILD_ID
from tests.fakes.ids import APP_ID
from tests.s3_server import ACCESS_KEY, SECRET_KEY, moto_s3, new_bucket

BALANCE = "/v1/user/balance"
UNREACHABLE_FIX = "check the network, DNS and DISCORD_API_BASE_URL"
PORTAL = "https://discord.com/developers/applications"
INVITE = (
    f"ok    discord invite: https://discord.com/oauth2/authorize?client_id={APP_ID}"
    f"&scope=bot+applications.commands&permissions={PERMISSIONS_INTEGER}"
)
WHERE = "put it in the environment or in a .env file (copy .env.example to .env and fill it in)"


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def doctor(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        *args,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def ffmpeg_line(line: str) -> bool:
    return re.fullmatch(r"ok    ffmpeg: \S+ \(version \S+\)", line) is not None


async def test_doctor_on_a_healthy_setup(tmp_path, fake_discord, simulator):
    env = {**bot_env(tmp_path, fake_discord, simulator), "DEV_GUILD_ID": str(GUILD_ID)}
    code, out, err = await doctor(tmp_path, env)
    assert (code, err) == (0, ""), out + err
    lines = out.splitlines()
    assert ffmpeg_line(lines.pop(4)), lines
    assert lines == [
        "ok    configuration: every setting is set and valid",
        f"ok    data folder: {tmp_path} is writable",
        f"ok    database: {tmp_path / 'bot.sqlite3'} does not exist yet; the bot creates it "
        "at start",
        f"ok    likeness store: {tmp_path / 'likeness'} on this machine's disk (made at the "
        "first likeness)",
        f"ok    discord: token accepted: logged in as sora-character-bot ({BOT_ID})",
        "ok    discord intents: Message Content intent granted",
        INVITE,
        f"ok    discord server {GUILD_ID}: the bot has every permission it needs",
        f"ok    toapis: reachable at {simulator.base_url}, key accepted: 100,000 credits "
        "(about $500.00)",
        "ok    toapis models: 3 offered, ours: sora-2, sora-2-pro, sora-2-vip",
        "doctor: all is well",
    ]
    assert simulator.submits == 0 and {r.method for r in simulator.requests} == {"GET"}
    assert [r.path for r in simulator.requests] == [BALANCE, "/v1/models"]
    assert simulator.scenario.api_key not in out


async def test_doctor_names_every_missing_and_invalid_setting_at_once(
    tmp_path, fake_discord, simulator
):
    env = bot_env(tmp_path, fake_discord, simulator)
    del env["DISCORD_TOKEN"], env["TOAPIS_API_KEY"]
    env.update(POLL_INTERVAL_SECONDS="soon", MEDIA_WORKERS="0", DATABASE_URL="mysql://db")
    code, out, err = await doctor(tmp_path, env)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:5] == [
        "FAIL  configuration: DATABASE_URL is invalid: not a sqlite:/// or postgresql:// URL "
        "-> set it to sqlite:///data/bot.sqlite3 (relative), sqlite:////absolute/path.sqlite3 "
        "or postgresql://user:password@host:5432/database (see .env.example)",
        "FAIL  configuration: POLL_INTERVAL_SECONDS is invalid: Input should be a valid number, "
        "unable to parse string as a number -> set it to a number of seconds above 0, at most "
        "600 (see .env.example)",
        "FAIL  configuration: MEDIA_WORKERS is invalid: Input should be greater than or equal "
        "to 1 -> set it to a whole number from 1 to 64, or nothing (see .env.example)",
        f"FAIL  configuration: DISCORD_TOKEN is not set -> {WHERE}",
        f"FAIL  configuration: TOAPIS_API_KEY is not set -> {WHERE}",
    ]
    # The other checks still run (the invalid database URL falls back to the default).
    assert lines[5:8] == [
        "ok    data folder: data does not exist yet; the bot creates it at start",
        "ok    database: data/bot.sqlite3 does not exist yet; the bot creates it at start",
        "ok    likeness store: data/likeness on this machine's disk (made at the first likeness)",
    ]
    assert not (tmp_path / "data").exists()  # the doctor leaves the disk as it found it
    assert lines[9:] == [
        "skip  discord: not checked: DISCORD_TOKEN is not set",
        "skip  toapis: not checked: TOAPIS_API_KEY is not set",
        "doctor: 5 problem(s) to fix, 0 warning(s)",
    ]
    assert simulator.requests == []


async def test_doctor_reports_a_refused_token_and_a_refused_key(tmp_path, fake_discord, simulator):
    env = {**bot_env(tmp_path, fake_discord, simulator), "TOAPIS_API_KEY": "sk-wrong-key"}
    fake_discord.fail_next("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    me = f"{fake_discord.base_url}/users/@me"
    assert out.splitlines()[5:] == [
        f"FAIL  discord: Discord refused DISCORD_TOKEN (HTTP 401 from {me}) -> reset the token "
        f"at {PORTAL} (your app, Bot, Reset Token) and set DISCORD_TOKEN",
        f"FAIL  toapis: toapis refused TOAPIS_API_KEY (HTTP 401 from {simulator.base_url}"
        f"{BALANCE}) -> copy the key again from the toapis console into TOAPIS_API_KEY",
        "doctor: 2 problem(s) to fix, 0 warning(s)",
    ]
    assert "sk-wrong-key" not in out


async def test_doctor_reports_unreachable_hosts(tmp_path, fake_discord, simulator):
    port = closed_port()
    env = bot_env(tmp_path, fake_discord, simulator)
    env.update(
        DISCORD_API_BASE_URL=f"http://127.0.0.1:{port}/api/v10",
        TOAPIS_BASE_URL="http://toapis.doctor-test.invalid",
    )
    code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    discord_line, toapis_line, summary = out.splitlines()[5:]
    assert discord_line == (
        f"FAIL  discord: cannot reach Discord at http://127.0.0.1:{port}/api/v10/users/@me: "
        f"connection refused -> {UNREACHABLE_FIX}"
    )
    assert re.fullmatch(
        re.escape(
            f"FAIL  toapis: cannot reach toapis at http://toapis.doctor-test.invalid{BALANCE}: "
            "DNS lookup failed ("
        )
        + r"[^)]+"
        + re.escape(") -> check the network and TOAPIS_BASE_URL"),
        toapis_line,
    ), toapis_line
    assert summary == "doctor: 2 problem(s) to fix, 0 warning(s)"


async def test_doctor_warns_about_intents_and_fails_on_missing_permissions(
    tmp_path, fake_discord, simulator
):
    fake_discord.application_flags = 0
    fake_discord.gateway.guilds[0]["roles"][0]["permissions"] = str(1 << 10 | 1 << 11)
    env = {**bot_env(tmp_path, fake_discord, simulator), "DEV_GUILD_ID": str(GUILD_ID)}
    code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    assert out.splitlines()[6:9] == [
        "warn  discord intents: the Message Content intent is not enabled: the bot runs, "
        f"auto-reaction stays off -> switch on Message Content Intent at {PORTAL} (your app, Bot)",
        INVITE,
        f"FAIL  discord server {GUILD_ID}: the bot lacks Send Messages in Threads, Embed Links, "
        "Attach Files, Read Message History, Add Reactions -> give the bot's role these "
        "permissions (Server Settings, Roles)",
    ]
    assert out.splitlines()[-1] == "doctor: 1 problem(s) to fix, 1 warning(s)"

    env["DEV_GUILD_ID"] = "42"
    code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    assert out.splitlines()[8] == (
        "FAIL  discord server 42: the bot is not a member of server 42 (DEV_GUILD_ID) -> invite "
        "it with the URL of the discord invite line or correct DEV_GUILD_ID"
    )


async def test_doctor_reports_a_database_of_another_program(tmp_path, fake_discord, simulator):
    foreign = tmp_path / "bot.sqlite3"
    foreign.write_bytes(b"not a database, just bytes" * 10)
    code, out, _ = await doctor(tmp_path, bot_env(tmp_path, fake_discord, simulator))
    assert code == 1
    assert out.splitlines()[2] == (
        f"FAIL  database: the file at {foreign} is not a SQLite database -> point DATA_DIR (or "
        "DATABASE_URL) at this bot's own database, or move that file away"
    )
    assert out.splitlines()[-1] == "doctor: 1 problem(s) to fix, 0 warning(s)"


async def test_doctor_asks_an_s3_likeness_store_and_never_shows_its_secret(
    tmp_path, fake_discord, simulator
):
    with moto_s3() as endpoint:
        bucket = new_bucket(endpoint)
        env = bot_env(tmp_path, fake_discord, simulator)
        env.update(
            LIKENESS_STORE=f"s3://{bucket}/likeness",
            LIKENESS_S3_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_REGION="us-east-1",
        )
        code, out, _ = await doctor(tmp_path, env)
        assert code == 0, out
        host = endpoint.removeprefix("http://")
        line = f"ok    likeness store: s3://{bucket}/likeness at {host} answers"
        assert out.splitlines()[3] == line

        env["LIKENESS_STORE"] = "s3://no-such-bucket/likeness"
        code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    assert out.splitlines()[3] == (
        f"FAIL  likeness store: the likeness store s3://no-such-bucket/likeness at {host} "
        "failed: NoSuchBucket -> create the bucket, or check LIKENESS_STORE, "
        "LIKENESS_S3_ENDPOINT_URL and the AWS_* credentials"
    )
    assert SECRET_KEY not in out and ACCESS_KEY not in out


async def test_doctor_shows_an_empty_account_as_a_warning_and_an_unlimited_one(
    tmp_path, fake_discord, simulator
):
    simulator.scenario.update(out_of_credit=True)
    env = bot_env(tmp_path, fake_discord, simulator)
    code, out, _ = await doctor(tmp_path, env)
    assert code == 0, out
    assert out.splitlines()[8:] == [
        f"warn  toapis: reachable at {simulator.base_url}, key accepted: 0 credits (about "
        "$0.00), no credit left -> top up the account in the toapis console: creating fails "
        "until then",
        "ok    toapis models: 3 offered, ours: sora-2, sora-2-pro, sora-2-vip",
        "doctor: all is well (1 warning(s))",
    ]
    simulator.scenario.update(out_of_credit=False, unlimited_quota=True)
    code, out, _ = await doctor(tmp_path, env)
    assert code == 0, out
    assert f"ok    toapis: reachable at {simulator.base_url}, key accepted: unlimited" in out
    assert simulator.submits == 0


@pytest.fixture
async def plain_web_server() -> AsyncIterator[str]:
    """A web server that is not toapis: 404 for everything, an HTML page at /html/."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Welcome</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/html/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_doctor_against_a_server_that_is_not_toapis_is_not_ok(
    tmp_path, fake_discord, simulator, plain_web_server
):
    fix = "check TOAPIS_BASE_URL (toapis' API, e.g. https://toapis.com); if it is, try later"
    env = {**bot_env(tmp_path, fake_discord, simulator), "TOAPIS_BASE_URL": plain_web_server}
    code, out, _ = await doctor(tmp_path, env)
    assert code == 1
    assert out.splitlines()[8:] == [
        f"FAIL  toapis: {plain_web_server}{BALANCE} answered HTTP 404 with a page that is not "
        f"JSON -> {fix}",
        "doctor: 1 problem(s) to fix, 0 warning(s)",
    ]
    html = f"{plain_web_server}/html"
    code, out, _ = await doctor(tmp_path, {**env, "TOAPIS_BASE_URL": html})
    assert code == 1
    assert out.splitlines()[8] == (
        f"FAIL  toapis: {html}{BALANCE} answered HTTP 200 with a page that is not JSON -> {fix}"
    )


async def test_doctor_names_malformed_base_urls_and_probes_no_default(
    tmp_path, fake_discord, simulator
):
    env = bot_env(tmp_path, fake_discord, simulator)
    env.update(TOAPIS_BASE_URL="notaurl", DISCORD_API_BASE_URL="https://")
    code, out, err = await doctor(tmp_path, env)
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[:2] == [
        "FAIL  configuration: TOAPIS_BASE_URL is invalid: must start with http:// or https:// "
        "-> set it to an http:// or https:// URL, or nothing (https://toapis.com) "
        "(see .env.example)",
        "FAIL  configuration: DISCORD_API_BASE_URL is invalid: names no host after http:// or "
        "https:// -> set it to an http:// or https:// URL, or nothing (Discord's own) "
        "(see .env.example)",
    ]
    assert lines[-3:] == [
        "skip  discord: not checked: DISCORD_API_BASE_URL is invalid (see above)",
        "skip  toapis: not checked: TOAPIS_BASE_URL is invalid (see above)",
        "doctor: 2 problem(s) to fix, 0 warning(s)",
    ]
    assert fake_discord.calls == [] and simulator.requests == []
