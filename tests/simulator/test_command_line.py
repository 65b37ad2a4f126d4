"""`python -m bot.simulator` as a person runs it: clear words, exit codes, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from bot.simulator.__main__ import build_parser, scenario_from_args

ROOT = Path(__file__).resolve().parents[2]


def simulator(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.simulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_a_busy_port_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = simulator("--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: listening on 127.0.0.1:{port} is already in use; "
        "pick another port with --port (0 picks a free one)"
    )
    assert "Traceback" not in result.stderr


def test_fail_lists_its_codes_and_refuses_unknown_ones() -> None:
    shown = simulator("--help")
    assert shown.returncode == 0
    for code in ("generation_failed", "no_character", "invalid_timestamps"):
        assert code in shown.stdout
    assert "_sim/scenario" in shown.stdout  # how to release --hang
    refused = simulator("--fail", "nope")
    assert refused.returncode == 2
    assert "unknown code 'nope': use one of generation_failed" in refused.stderr


def test_the_engine_switches_reach_the_scenario() -> None:
    args = ["--retire-sora", "--refuse-faces", "--vidu-needs-image-urls", "--asset-delay", "2"]
    scenario = scenario_from_args(build_parser().parse_args(args))
    assert scenario.sora_retired and scenario.refuse_faces and scenario.vidu_needs_image_urls
    assert scenario.asset_delay == 2
    plain = scenario_from_args(build_parser().parse_args([]))
    assert not (plain.sora_retired or plain.refuse_faces or plain.vidu_needs_image_urls)
