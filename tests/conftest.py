"""Shared fixtures: test media, a toapis simulator and a loopback media server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
import pytest_asyncio
import yarl
from aiohttp import web
from discord.gateway import DiscordWebSocket

from bot.simulator import Scenario, Simulator
from tests.fakes import FakeDiscord
from tests.sample_media import make_audio_only, make_face_video, make_non_video, make_video
from tests.shared_media import made_once, media_root


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide directory for generated media (served by `media_server`), shared
    by the parallel workers (see tests/shared_media.py)."""
    return media_root(tmp_path_factory)


@pytest.fixture(scope="session")
def short_video(media_dir: Path) -> Path:
    """A 5 s 320x240 MP4 with an audio track."""
    return made_once(media_dir / "short.mp4", lambda path: make_video(path, seconds=5))


@pytest.fixture(scope="session")
def silent_video(media_dir: Path) -> Path:
    """A 5 s 320x240 MP4 without audio."""
    return made_once(
        media_dir / "silent.mp4", lambda path: make_video(path, seconds=5, audio=False)
    )


@pytest.fixture(scope="session")
def face_video(media_dir: Path) -> Path:
    """12 s: a real face and speech-like sound only in 0:04-0:09, noise elsewhere."""
    return made_once(
        media_dir / "face.mp4", lambda path: make_face_video(path, seconds=12, one_face=(4, 9))
    )


@pytest.fixture(scope="session")
def two_faces_video(media_dir: Path) -> Path:
    """14 s: two faces in 0:02-0:07, one face in 0:09-0:13, speech in both."""
    return made_once(
        media_dir / "two-faces.mp4",
        lambda path: make_face_video(path, seconds=14, one_face=(9, 13), two_faces=(2, 7)),
    )


@pytest.fixture(scope="session")
def non_video(media_dir: Path) -> Path:
    """A text file named like an MP4."""
    return made_once(media_dir / "not-a-video.mp4", make_non_video)


@pytest.fixture(scope="session")
def audio_only(media_dir: Path) -> Path:
    """A WAV file: audio, no video stream."""
    return made_once(media_dir / "audio-only.wav", make_audio_only)


@pytest_asyncio.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """A running toapis simulator with fast timings (API key `sim-key`)."""
    sim = Simulator(Scenario(queued_for=0.05, step_interval=0.05))
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest_asyncio.fixture
async def media_server(media_dir: Path) -> AsyncIterator[str]:
    """Base URL of a loopback static server for `media_dir` (Range requests supported)."""
    app = web.Application()
    app.router.add_static("/", media_dir)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started `FakeDiscord` (gateway mounted at `/gateway`).

    `discord.http.Route.BASE` and `DiscordWebSocket.DEFAULT_GATEWAY` point at it for the
    test and are restored afterwards.
    """
    saved_base = discord.http.Route.BASE
    saved_gateway = DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    base = await fake.start()
    discord.http.Route.BASE = base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        discord.http.Route.BASE = saved_base
        DiscordWebSocket.DEFAULT_GATEWAY = saved_gateway
        await fake.stop()


# --- the log scan of the whole run (see tests/log_scan.py) -----------------------------

_LOG_ROOT: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _production_formatted_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every log record of the run, at DEBUG, formatted as production formats it."""
    from bot.runtime.log_redaction import RedactingFormatter, SecretRegistry
    from tests.log_scan import configured_secrets

    root = tmp_path_factory.getbasetemp()
    _LOG_ROOT.append(root)
    path = root / "session.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    # Production registers the configured secrets (`setup_logging(..., settings.secrets())`);
    # interaction tokens are not known in advance and rely on the formatter's patterns.
    handler.setFormatter(RedactingFormatter(registry=SecretRegistry(configured_secrets())))
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger()
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)
        handler.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a configured secret reached any log written during it.

    Each process scans the logs it wrote (only it knows the interaction tokens it saw).
    Under pytest-xdist a worker leaves its findings in a file under its temporary
    directory, and the controller, whose temporary directory holds the workers', reports
    them and fails the run.
    """
    from tests.log_scan import FINDINGS_FILE, collect_findings, configured_secrets, scan_logs

    findings: list[str] = []
    if _LOG_ROOT:
        findings = scan_logs(_LOG_ROOT[0], configured_secrets())
        if hasattr(session.config, "workerinput"):
            if findings:
                (_LOG_ROOT[0] / FINDINGS_FILE).write_text("\n".join(findings), encoding="utf-8")
            return
    elif session.config.pluginmanager.hasplugin("dsession"):  # the xdist controller
        # The controller's temporary folder holds the workers' (xdist names them popen-gw*).
        factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
        findings = collect_findings(factory.getbasetemp())
    if findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["SECRET IN LOGS: configured secrets were found in log files:", *findings]
        if reporter is not None:
            reporter.ensure_newline()
            for line in lines:
                reporter.write_line(line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly whether the PostgreSQL backend was tested (TEST_DATABASE_URL)."""
    from storage.postgres.database import redact
    from tests.storage.backends import postgres_url

    url = postgres_url()
    terminalreporter.ensure_newline()
    if url is None:
        terminalreporter.write_line(
            "PostgreSQL backend NOT tested: TEST_DATABASE_URL is not set "
            "(e.g. TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test; .ci/run sets it)",
            yellow=True,
            bold=True,
        )
    else:
        terminalreporter.write_line(f"PostgreSQL backend tested against {redact(url)}", green=True)
