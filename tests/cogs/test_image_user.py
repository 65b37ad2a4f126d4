"""The Docker image without Docker: its entrypoint, paths and HEALTHCHECK, run as its
unprivileged user (uid 10001, through `setpriv`) with the environment the Dockerfile sets
and an env file made from `.env.example` (`docker run --env-file .env`).

The working directory stands for `/app` (owned by root, not writable by the bot) and a
folder owned by uid 10001 stands for the `/data` volume.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cogs.conftest import BOT_TOKEN
from tests.cogs.test_smoke_process import until

ROOT = Path(__file__).resolve().parents[2]
UID = 10001
SETPRIV = shutil.which("setpriv")

pytestmark = pytest.mark.skipif(
    SETPRIV is None or os.geteuid() != 0,
    reason="running as uid 10001 needs root and setpriv (util-linux)",
)


def dockerfile() -> dict[str, object]:
    """ENV (merged), USER, HEALTHCHECK CMD and ENTRYPOINT of the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    found: dict[str, object] = {"env": env}
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif word == "USER":
            found["user"] = rest.strip()
        elif word == "ENTRYPOINT":
            found["entrypoint"] = json.loads(rest)
        elif word == "HEALTHCHECK":
            found["healthcheck"] = json.loads(rest.split(" CMD ", 1)[1])
    return found


def env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines as `docker run --env-file` reads them (comments skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k: v for k, v in (p for p in pairs if len(p) == 2) if not k.startswith("#")}


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A folder everyone may enter (pytest's own tmp folders are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="sora-image-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _linked_copy(source: Path, target: Path) -> None:
    """`source` as `target`: hard links where the file system allows, else copies."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(source, target, copy_function=link, ignore=ignore)


def _import_problem(root: Path, env: dict[str, str]) -> str | None:
    """Why uid 10001 cannot import the bot and its packages with `env` (None: it can)."""
    probe = as_bot_user(["python", "-c", "import bot.runtime.app"])
    try:
        done = subprocess.run(probe, cwd=root, env=env, capture_output=True, timeout=60)
    except OSError as exc:
        return str(exc)
    output = (done.stdout + done.stderr).decode(errors="replace").strip()
    return None if done.returncode == 0 else output or f"exit code {done.returncode}"


@pytest.fixture
def readable_code(image_root: Path) -> dict[str, str]:
    """What the bot's user needs in its environment to import our code and packages.

    Nothing when it can read them where they are. A checkout in a folder only its owner
    may enter (a clone under `mktemp -d`) gets a copy of the code and the site-packages
    under `image_root`, found through PYTHONPATH.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(image_root)}
    if _import_problem(image_root, env) is None:
        return {}
    copy = image_root / "python"
    paths = [copy / "code"]
    for package in ("bot", "cogs", "storage"):
        _linked_copy(ROOT / package, copy / "code" / package)
    for number, site_packages in enumerate(site.getsitepackages()):
        if Path(site_packages).is_dir():
            paths.append(copy / f"site-{number}")
            _linked_copy(Path(site_packages), paths[-1])
    extra = {"PYTHONPATH": os.pathsep.join(map(str, paths))}
    problem = _import_problem(image_root, {**env, **extra})
    if problem is not None:
        pytest.skip(
            f"uid {UID} cannot run {sys.executable} even with a copy of the code: {problem}"
        )
    return extra


def as_bot_user(command: list[str]) -> list[str]:
    """`command` as uid/gid 10001 with no supplementary groups; `python` is ours."""
    assert SETPRIV is not None
    program = [sys.executable if command[0] == "python" else command[0], *command[1:]]
    return [SETPRIV, f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *program]


async def run_as_bot_user(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *as_bot_user(command),
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_image_paths_entrypoint_and_healthcheck_as_uid_10001(
    image_root, readable_code, fake_discord, simulator
):
    image = dockerfile()
    image_env = image["env"]
    assert isinstance(image_env, dict)
    assert image["user"] == str(UID)
    assert image_env["DATA_DIR"] == "/data" and "DATABASE_URL" not in image_env
    entrypoint, healthcheck = image["entrypoint"], image["healthcheck"]
    assert entrypoint == ["python", "-m", "bot"]
    assert healthcheck == ["python", "-m", "bot", "doctor", "--quick"]
    assert isinstance(entrypoint, list) and isinstance(healthcheck, list)

    app = image_root / "app"  # the WORKDIR: root's, not writable by the bot
    app.mkdir(mode=0o755)
    data = image_root / "data"  # the /data volume, owned by the bot's user
    data.mkdir()
    os.chown(data, UID, UID)
    dotenv = env_file(ROOT / ".env.example")
    assert "DATABASE_URL" not in dotenv and "DATA_DIR" not in dotenv  # commented out
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(app),
        **readable_code,
        **{k: str(v) for k, v in image_env.items()},
        "DATA_DIR": str(data),
        **dotenv,
        "DISCORD_TOKEN": BOT_TOKEN,
        "TOAPIS_API_KEY": simulator.scenario.api_key,
        "TOAPIS_BASE_URL": simulator.base_url,
        "DISCORD_API_BASE_URL": fake_discord.base_url,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
        "ALLOW_PRIVATE_URLS": "true",
    }
    fast = {**env, "HEARTBEAT_INTERVAL_SECONDS": "0.2"}
    heartbeat = data / "heartbeat"

    # The old example's DATABASE_URL overrode the image's /data: the bot could not start.
    code, out = await run_as_bot_user(
        entrypoint, app, {**env, "DATABASE_URL": "sqlite:///data/bot.sqlite3"}
    )
    assert code == 1
    assert out.strip().endswith(
        "cannot open the database at data/bot.sqlite3: cannot create the folder data "
        "(Permission denied)"
    ), out

    log = (image_root / "bot.log").open("wb")
    bot = await asyncio.create_subprocess_exec(
        *as_bot_user(entrypoint),
        cwd=app,
        env=fast,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        await until(lambda: fake_discord.gateway.identify_count == 1, "IDENTIFY", within=30)
        await until(heartbeat.exists, "the heartbeat file")
        first = heartbeat.stat().st_mtime_ns
        await until(lambda: heartbeat.stat().st_mtime_ns > first, "a renewed heartbeat")
        database = data / "bot.sqlite3"
        assert database.stat().st_uid == UID and heartbeat.stat().st_uid == UID
        assert sorted(p.name for p in app.iterdir()) == []  # nothing written in /app

        code, out = await run_as_bot_user(healthcheck, app, fast)
        assert (code, out) == (0, f"ok    heartbeat: {heartbeat} is 0 s old (at most 0.6 s)\n")
        code, out = await run_as_bot_user(["python", "-m", "bot", "doctor"], app, fast)
        lines = out.splitlines()
        assert lines[1] == f"ok    data folder: {data} is writable", out
        assert lines[2].startswith(f"ok    database: {database}, schema version "), out
        assert lines[2].endswith(f"(up to date), bot running (pid {bot.pid})"), out
        assert code == 0, out
    finally:
        bot.send_signal(signal.SIGTERM)
        stopped = await asyncio.wait_for(bot.wait(), timeout=15)
        log.close()
    assert stopped == 0
    assert not heartbeat.exists()
    code, out = await run_as_bot_user(healthcheck, app, env)
    assert (code, out) == (
        1,
        f"FAIL  heartbeat: no {heartbeat}: the bot is not connected to Discord -> see the "
        "bot's log; start it with python -m bot\n",
    )

    # A bot that lost Discord stops renewing the file: unhealthy after 3 x 30 s.
    heartbeat.write_text("1\n")
    old = time.time() - 100
    os.utime(heartbeat, (old, old))
    code, out = await run_as_bot_user(healthcheck, app, env)
    assert code == 1
    # 100 s old when written; a slow machine may take a few seconds to start the check.
    age = re.fullmatch(
        f"FAIL  heartbeat: {re.escape(str(heartbeat))} is (\\d+) s old \\(more than 90 s\\): "
        "the bot is not connected to Discord -> see the bot's log; start it with "
        "python -m bot\n",
        out,
    )
    assert age is not None, out
    assert 100 <= int(age[1]) <= 110
    bot_log = (image_root / "bot.log").read_text()
    assert "Traceback" not in bot_log and BOT_TOKEN not in bot_log
