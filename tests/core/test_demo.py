"""`python -m bot demo`: the whole job offline, as a new user runs it from a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(120)
def test_demo_runs_the_whole_job_offline_and_cleans_up(tmp_path: Path) -> None:
    # A .env in the folder must not be used: the demo has its own database and settings.
    (tmp_path / ".env").write_text(
        "DATABASE_URL=sqlite:///mine/bot.sqlite3\nTOAPIS_BASE_URL=http://192.0.2.1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOAPIS_", "DISCORD_"))}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    out = result.stdout
    assert result.returncode == 0, (out, result.stderr)
    assert "Traceback" not in result.stderr
    # Visible progress, the card, the avatar saved here, the list.
    percents = [int(p) for p in re.findall(r"\]\s+(\d+)%", out)]
    assert len(set(percents)) >= 4 and percents == sorted(percents), out
    assert "character ready:" in out and "use in text:  @" in out
    avatar = tmp_path / "sora-demo-avatar.jpg"
    assert f"saved the character's avatar to {avatar}" in out
    assert avatar.read_bytes().startswith(b"\xff\xd8")
    assert "1 character(s) stored in the demo database" in out
    # Its own temporary folder is gone, and it never touched the bot's database.
    workdir = re.search(r"offline in (\S+)", out)
    assert workdir is not None and not Path(workdir.group(1)).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "sora-demo-avatar.jpg"]
