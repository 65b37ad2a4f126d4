"""`python -m bot doctor`: every check of a setup, one line each, ok / what is wrong / fix.

Configuration (every missing or invalid setting at once), the data folder and database
(writable, schema, "bot running (pid N)"), where likenesses are kept (an S3 store must
answer; local disk under a shared PostgreSQL database is a warning), ffmpeg, Discord and
toapis (see `bot.runtime.startup_checks`).
Exit 0 when nothing failed (warnings allowed), 1 otherwise.

`doctor --quick` only checks that the heartbeat file of a running bot is fresh: the
Docker HEALTHCHECK. It reads no setting it does not need and connects nowhere.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

import httpx

from bot.media.likeness_store import LikenessStoreError, open_likeness_store
from bot.runtime.config import REQUIRED, Problem, Settings
from bot.runtime.heartbeat import STALE_AFTER_BEATS, age
from bot.runtime.log_redaction import setup_logging
from bot.runtime.process_lock import holder
from bot.runtime.settings_check import inspect_settings
from bot.runtime.startup_checks import Check, Status, client, discord_checks, toapis_checks
from storage.database import StorageError, is_shared
from storage.postgres.database import redact
from storage.postgres.database import schema_version as postgres_schema_version
from storage.schema import SCHEMA_VERSION
from storage.sqlite.database import schema_version

WRITABLE_FIX = (
    "make the folder writable by the user the bot runs as, or point DATA_DIR (or "
    "DATABASE_URL) elsewhere"
)

SHARED_STORE_FIX = (
    "several processes on several machines need a shared store: set "
    "LIKENESS_STORE=s3://bucket/prefix (and LIKENESS_S3_ENDPOINT_URL for MinIO, R2 and the like)"
)
S3_FIX = (
    "create the bucket, or check LIKENESS_STORE, LIKENESS_S3_ENDPOINT_URL and the AWS_* credentials"
)

FOREIGN_FIX = "point DATA_DIR (or DATABASE_URL) at this bot's own database, or move that file away"


def config_checks(problems: list[Problem]) -> list[Check]:
    """One line per missing or invalid setting, or one ok line."""
    if not problems:
        return [Check(Status.OK, "configuration", "every setting is set and valid")]
    return [Check(Status.FAIL, "configuration", p.what, p.fix) for p in problems]


def data_checks(settings: Settings) -> list[Check]:
    """The data folder (writable) and the database (schema, a bot running on it)."""
    checks = [_data_folder(settings.data_path)]
    if is_shared(settings.database_target):
        return [*checks, _postgres_check(str(settings.database_target))]
    path = settings.database_path
    try:
        version = schema_version(path)
    except StorageError as exc:
        unusable = str(exc).startswith("cannot open")  # else not ours, or a newer bot's
        fix = WRITABLE_FIX if unusable else FOREIGN_FIX
        return [*checks, Check(Status.FAIL, "database", str(exc), fix)]
    if version is None:
        what = f"{path} does not exist yet; the bot creates it at start"
    elif version < SCHEMA_VERSION:
        what = f"{path}, schema version {version} (the bot updates it to {SCHEMA_VERSION})"
    else:
        what = f"{path}, schema version {version} (up to date)"
    pid = holder(path)
    if pid is not None:
        what += f", bot running (pid {pid})" if pid else ", bot running (pid unknown)"
    return [*checks, Check(Status.OK, "database", what)]


def likeness_check(settings: Settings) -> Check:
    """Where likenesses are kept: an S3 store answers; local disk is writable, and not
    what several machines on one PostgreSQL database can share."""
    area = "likeness store"
    store = open_likeness_store(
        settings.likeness_store,
        settings.data_path,
        settings.likeness_s3_endpoint_url,
        s3_config=settings.likeness_s3_config(),
    )
    if not store.is_local:
        try:
            asyncio.run(store.check())
        except LikenessStoreError as exc:
            return Check(Status.FAIL, area, str(exc), S3_FIX)
        return Check(Status.OK, area, f"{store.description} answers")
    folder = store.folder
    assert folder is not None
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return Check(Status.FAIL, area, f"{folder} is not writable", WRITABLE_FIX)
    what = f"{folder} on this machine's disk"
    if not folder.exists():
        what += " (made at the first likeness)"
    if is_shared(settings.database_target):
        return Check(Status.WARN, area, f"{what}, but the database is PostgreSQL", SHARED_STORE_FIX)
    return Check(Status.OK, area, what)


def _postgres_check(url: str) -> Check:
    """The PostgreSQL database answers, and its schema version."""
    try:
        version = asyncio.run(postgres_schema_version(url))
    except StorageError as exc:
        return Check(Status.FAIL, "database", str(exc), "start the server or fix DATABASE_URL")
    if version is None:
        return Check(Status.OK, "database", f"{redact(url)} is empty; the bot fills it at start")
    state = "up to date" if version >= SCHEMA_VERSION else f"the bot updates it to {SCHEMA_VERSION}"
    return Check(Status.OK, "database", f"{redact(url)}, schema version {version} ({state})")


def _data_folder(folder: Path) -> Check:
    """The folder is writable, or can be made where it is missing (the bot makes it at start;
    the doctor leaves the disk as it found it)."""
    if folder.exists():
        problem = None if folder.is_dir() else "is not a folder"
        if problem is None and not os.access(folder, os.W_OK | os.X_OK):
            problem = "is not writable"
        what = f"{folder} is writable"
    else:
        parent = next(p for p in folder.absolute().parents if p.exists())
        writable = parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
        problem = None if writable else f"cannot be created ({parent} is not writable)"
        what = f"{folder} does not exist yet; the bot creates it at start"
    if problem is not None:
        return Check(Status.FAIL, "data folder", f"{folder} {problem}", WRITABLE_FIX)
    return Check(Status.OK, "data folder", what)


def ffmpeg_check() -> Check:
    """ffmpeg runs (the one on PATH, else the bundled one)."""
    from bot.media.page_checks import ffmpeg_path

    fix = "install ffmpeg (e.g. apt-get install ffmpeg) or reinstall the bot (imageio-ffmpeg)"
    try:
        exe = ffmpeg_path()
        result = subprocess.run(  # noqa: S603 (our own ffmpeg, fixed arguments)
            [exe, "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return Check(Status.FAIL, "ffmpeg", f"cannot run ffmpeg: {exc}", fix)
    first = (result.stdout.splitlines() or [""])[0]
    if result.returncode != 0 or not first.startswith("ffmpeg version"):
        return Check(Status.FAIL, "ffmpeg", f"{exe} -version exited {result.returncode}", fix)
    version = first.split()[2] if len(first.split()) > 2 else "?"
    return Check(Status.OK, "ffmpeg", f"{exe} (version {version})")


def heartbeat_check(settings: Settings, now: float | None = None) -> Check:
    """The running bot's heartbeat is younger than 3 intervals (90 s by default)."""
    path = settings.heartbeat_path
    limit = STALE_AFTER_BEATS * settings.heartbeat_interval_seconds
    seconds = age(path, now)
    fix = "see the bot's log; start it with python -m bot"
    if seconds is None:
        return Check(
            Status.FAIL, "heartbeat", f"no {path}: the bot is not connected to Discord", fix
        )
    if seconds > limit:
        what = (
            f"{path} is {seconds:.0f} s old (more than {limit:g} s): "
            "the bot is not connected to Discord"
        )
        return Check(Status.FAIL, "heartbeat", what, fix)
    return Check(Status.OK, "heartbeat", f"{path} is {seconds:.0f} s old (at most {limit:g} s)")


def health_check(settings: Settings) -> Check:
    """`GET /health` of the running bot's HTTP server (when `HTTP_PORT` is set)."""
    wildcard = settings.http_host in ("0.0.0.0", "::", "")  # noqa: S104 (we only connect)
    host = "127.0.0.1" if wildcard else settings.http_host
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{settings.http_port}/health"
    fix = "see the bot's log; start it with python -m bot"
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        return Check(Status.FAIL, "health", f"{url} did not answer ({type(exc).__name__})", fix)
    if response.status_code == 200:
        return Check(Status.OK, "health", f"{url} answers 200")
    try:
        problems = "; ".join(response.json().get("problems") or []) or "unhealthy"
    except ValueError:
        problems = f"HTTP {response.status_code}"
    return Check(Status.FAIL, "health", f"{url}: {problems}", fix)


async def remote_checks(settings: Settings, invalid: frozenset[str] = frozenset()) -> list[Check]:
    """Discord and toapis, at the same time; one whose base URL setting is malformed is not
    probed (the default in its place would answer for a service the operator did not name)."""
    async with client() as http:
        discord, toapis = await asyncio.gather(
            _unless(invalid, "DISCORD_API_BASE_URL", "discord", discord_checks(settings, http)),
            _unless(invalid, "TOAPIS_BASE_URL", "toapis", toapis_checks(settings, http)),
        )
    return [*discord, *toapis]


async def _unless(
    invalid: frozenset[str], setting: str, area: str, checks: Coroutine[Any, Any, list[Check]]
) -> list[Check]:
    if setting in invalid:
        checks.close()
        return [Check(Status.SKIP, area, f"not checked: {setting} is invalid (see above)")]
    return await checks


def run_doctor(out: TextIO, *, quick: bool = False) -> int:
    """Print every check, one line each, then a summary; 0 when nothing failed."""
    settings, problems = inspect_settings()
    setup_logging("ERROR", settings.secrets())
    if quick:
        check = heartbeat_check(settings) if settings.http_port is None else health_check(settings)
        print(check.line(), file=out, flush=True)
        return 0 if check.status is Status.OK else 1
    problems += settings.missing(*REQUIRED)
    checks: list[Check] = []
    groups = (config_checks(problems), data_checks(settings), [likeness_check(settings)])
    for group in (*groups, [ffmpeg_check()]):
        checks += group
        _show(group, out)
    group = asyncio.run(remote_checks(settings, frozenset(p.setting for p in problems)))
    checks += group
    _show(group, out)
    failed = sum(c.status is Status.FAIL for c in checks)
    warned = sum(c.status is Status.WARN for c in checks)
    if failed:
        summary = f"doctor: {failed} problem(s) to fix, {warned} warning(s)"
    else:
        summary = f"doctor: all is well ({warned} warning(s))" if warned else "doctor: all is well"
    print(summary, file=out, flush=True)
    return 1 if failed else 0


def _show(checks: list[Check], out: TextIO) -> None:
    for check in checks:
        print(check.line(), file=out, flush=True)
