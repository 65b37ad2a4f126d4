"""`python -m bot demo`: the whole job offline, as a new user runs it from a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EARLIER = b"\xff\xd8 an earlier run's avatar"


@pytest.mark.timeout(120)
def test_demo_shows_every_engine_offline_and_cleans_up(tmp_path: Path) -> None:
    # A .env in the folder must not be used: the demo has its own database and settings.
    (tmp_path / ".env").write_text(
        "DATABASE_URL=sqlite:///mine/bot.sqlite3\nTOAPIS_BASE_URL=http://192.0.2.1\n"
        "CHARACTER_ENGINES=viduq3\nDATA_DIR=mine\n"
    )
    (tmp_path / "sora-demo-avatar.jpg").write_bytes(EARLIER)  # an earlier run's avatar
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
    assert result.stderr == ""  # no tracebacks, no log lines: only what the demo prints
    first, second, videos = steps_of(out)
    # 1. Sora's card with visible progress, then Seedance 2 and Vidu Q3 bound after it.
    percents = [int(p) for p in re.findall(r"\]\s+(\d+)%\s+(?:queued|in progress)\s+\(task", first)]
    # Polls are sparse until a task's usual end: a few steps of progress, always forward.
    assert len(set(percents)) >= 2 and percents == sorted(percents), out
    username = re.search(r"use in text:  @(\S+)", first)
    assert username is not None, first
    sora = f"Sora 2 @{username.group(1)}"
    assert f"engines:      {sora} · Seedance 2 preparing · Vidu Q3 preparing" in first
    assert re.search(
        rf"now works with: {re.escape(sora)} · Seedance 2 ready · Vidu Q3 ready", first
    )
    assert "(the simulator's placeholder picture" in first
    # 2. Sora retired: a character still made for the other two, with the reason for Sora.
    assert "name:         Test Pattern" in second and "use in text" not in second
    assert "engines:      Seedance 2 ready · Vidu Q3 ready\n" in second
    assert "Sora 2: no longer offered by the video service" in second
    # its avatar (a still of the clip) saved here, next to the earlier run's, not over it
    saved = tmp_path / "sora-demo-avatar-2.jpg"
    assert f"saved Test Pattern's avatar (a still of the clip) to {saved}" in second
    assert saved.read_bytes().startswith(b"\xff\xd8")
    assert (tmp_path / "sora-demo-avatar.jpg").read_bytes() == EARLIER
    # 3. A video on each engine, the prompt written its way, and where the result is.
    assert "seedance-2, 5 s, 16:9: prompt sent: 'The character from images 1-3 waves" in videos
    assert "viduq3, 5 s, 16:9: prompt sent: '@Test_Pattern dances in the rain'" in videos
    assert "with subject(s) @Test_Pattern (3 stills)" in videos
    assert len(re.findall(r"video ready: http://127\.0\.0\.1:\d+/\S+\.mp4", videos)) == 2
    assert "2 character(s) stored in the demo database" in videos
    # Its own temporary folder is gone, and it never touched the bot's database.
    workdir = re.search(r"offline in (\S+)", out)
    assert workdir is not None and not Path(workdir.group(1)).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".env",
        "sora-demo-avatar-2.jpg",
        "sora-demo-avatar.jpg",
    ]


def steps_of(out: str) -> list[str]:
    """The demo's output of steps 1, 2 and 3."""
    parts = re.split(r"^\d\. ", out, flags=re.MULTILINE)
    assert len(parts) == 4, out
    return parts[1:]
