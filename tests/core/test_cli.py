"""The CLI end to end: a real `python -m bot` process against the simulator."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path


async def run_bot_cli(
    tmp_path: Path, simulator, *args: str, extra: dict[str, str] | None = None
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env.update(
        TOAPIS_BASE_URL=simulator.base_url,
        TOAPIS_API_KEY=simulator.scenario.api_key,
        DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        POLL_INTERVAL_SECONDS="0.05",
        ALLOW_PRIVATE_URLS="true",
    )
    env.update(extra or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
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


async def test_create_prints_progress_and_the_character(
    tmp_path, simulator, media_server, short_video
):
    url = f"{media_server}/{short_video.name}"
    code, out, err = await run_bot_cli(
        tmp_path, simulator, "create", "--url", url, "--start", "1", "--end", "3", "--guild", "7"
    )
    assert code == 0, err
    assert "  0%  queued" in out and "in progress" in out
    assert "character ready:" in out and "use in text:  @" in out
    assert "engines to bind it to: Sora 2, Seedance 2, Vidu Q3" in out  # CHARACTER_ENGINES
    # the binding that follows the card is followed to its end too
    engines = re.search(r"now works with: (Sora 2 @\S+ · Seedance 2 ready · Vidu Q3 ready)", out)
    assert engines is not None, out
    assert simulator.scenario.api_key not in out + err

    code, out, _ = await run_bot_cli(tmp_path, simulator, "characters", "--guild", "7")
    assert code == 0 and "1 character(s) in server 7" in out
    assert engines.group(1) in out
    code, out, _ = await run_bot_cli(tmp_path, simulator, "characters", "--guild", "8")
    assert "0 character(s) in server 8" in out


async def test_create_reports_a_failed_task(tmp_path, simulator, media_server, short_video):
    simulator.scenario.update(fail_with=["generation_failed", "Generation failed: no face"])
    url = f"{media_server}/{short_video.name}"
    code, out, _ = await run_bot_cli(
        tmp_path, simulator, "create", "--url", url, "--start", "1", "--end", "3"
    )
    assert code == 1 and "failed: no face" in out


async def test_video_without_sound_is_refused_before_any_api_call(
    tmp_path, simulator, media_server, silent_video
):
    url = f"{media_server}/{silent_video.name}"
    code, _, err = await run_bot_cli(
        tmp_path, simulator, "create", "--url", url, "--start", "1", "--end", "3"
    )
    assert code == 2 and "no sound" in err and "Traceback" not in err
    assert simulator.requests == []


async def test_bad_range_is_refused_before_any_api_call(tmp_path, simulator):
    code, _, err = await run_bot_cli(
        tmp_path,
        simulator,
        "create",
        "--url",
        "https://example.com/a.mp4",
        "--start",
        "1",
        "--end",
        "9",
    )
    assert code == 2 and "at most 3" in err and "Traceback" not in err
    assert simulator.requests == []


async def test_missing_api_key_is_one_clear_line(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "create",
        "--from-task",
        "task_01KBYT59JDHB4A3KDDR9N9JVWP",
        "--start",
        "1",
        "--end",
        "3",
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("TOAPIS_")},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 2
    assert err.decode().strip().count("\n") == 0 and "TOAPIS_API_KEY" in err.decode()


def test_help_describes_create_and_names_the_program_as_started() -> None:
    import subprocess

    script = Path(sys.executable).parent / "sora-character-bot"
    shown = subprocess.run(
        [str(script), "create", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: sora-character-bot create")
    text = " ".join(shown.stdout.split())
    assert "same checks and media intake as the Discord bot" in text
    assert "TOAPIS_API_KEY (required)" in text and "DATABASE_URL" in text
    module = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, timeout=30
    )
    assert module.stdout.startswith("usage: python -m bot")


async def test_create_says_why_while_toapis_is_unreachable_then_gives_up(
    tmp_path, simulator, media_server, short_video, unused_tcp_port
):
    import sqlite3

    closed = f"http://127.0.0.1:{unused_tcp_port}"
    simulator.base_url = closed  # the CLI is pointed at a port where nothing listens
    url = f"{media_server}/{short_video.name}"
    code, out, err = await run_bot_cli(
        tmp_path, simulator, "create", "--url", url, "--start", "1", "--end", "3", "--give-up", "3"
    )
    assert code == 1, (out, err)
    assert "not sent yet: The video service could not be reached" in out
    assert "error: gave up after 3 s: " in out and "Nothing was sent or charged" in out
    assert "Traceback" not in err
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        rows = db.execute("SELECT state, error_code, announced_at FROM jobs").fetchall()
    [(state, error_code, announced_at)] = rows
    assert (state, error_code) == ("failed", "not_accepted") and announced_at is not None


async def test_a_private_address_in_the_cli_names_the_setting_that_allows_it(tmp_path, simulator):
    env_private = {"ALLOW_PRIVATE_URLS": "false"}
    code, _, err = await run_bot_cli(
        tmp_path,
        simulator,
        "create",
        "--url",
        "http://127.0.0.1:8000/clip.mp4",
        "--start",
        "1",
        "--end",
        "3",
        extra=env_private,
    )
    assert code == 2
    assert err.strip() == (
        "error: That link points to a private network address. For local testing (the "
        "simulator, files on this machine) set ALLOW_PRIVATE_URLS=true; never in production."
    )


async def test_json_logs_are_one_object_per_line_with_the_job_and_task(
    tmp_path, simulator, media_server, short_video
):
    import json

    url = f"{media_server}/{short_video.name}"
    code, _, err = await run_bot_cli(
        tmp_path,
        simulator,
        "create",
        "--url",
        url,
        "--start",
        "1",
        "--end",
        "3",
        "-v",
        extra={"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"},
    )
    assert code == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    [submitted] = [e for e in lines if e["message"].startswith("job 1: toapis task ")]
    assert submitted["job_id"] == 1 and submitted["task_id"].startswith("task_")
    assert submitted["guild_id"] == 0 and submitted["event"] == "accepted"
    assert simulator.scenario.api_key not in err


async def test_create_from_any_task_of_the_account(tmp_path, simulator, media_server, short_video):
    # The owner, on the machine, may use a task no server of this database made (members
    # in Discord may not).
    url = f"{media_server}/{short_video.name}"
    code, out, err = await run_bot_cli(
        tmp_path, simulator, "create", "--url", url, "--start", "1", "--end", "3"
    )
    assert code == 0, err
    [task_id] = [line.split()[-1] for line in out.splitlines() if "task id:" in line]
    other_database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}"}
    again = f"create --from-task {task_id} --start 1 --end 3".split()
    code, out, err = await run_bot_cli(tmp_path, simulator, *again, extra=other_database)
    assert code == 0, err
    assert "character ready:" in out


async def test_create_with_sora_retired_makes_a_named_character_for_the_other_engines(
    tmp_path, simulator, media_server, short_video
):
    simulator.scenario.update(sora_retired=True)
    url = f"{media_server}/{short_video.name}"
    args = ["create", "--url", url, "--start", "1", "--end", "3", "--name", "Hero"]
    code, out, err = await run_bot_cli(
        tmp_path, simulator, *args, extra={"CHARACTER_ENGINES": "sora-2,viduq3"}
    )
    assert code == 0, err
    assert "engines to bind it to: Sora 2, Vidu Q3" in out
    assert "name:         Hero" in out and "use in text" not in out
    assert "engines:      Vidu Q3 ready\n" in out
    assert "Sora 2: no longer offered by the video service" in out
    assert "avatar:       " in out and "(a still of the clip)" in out
    assert not [r for r in simulator.requests if "private-avatar" in r.path]  # not chosen
    code, out, _ = await run_bot_cli(tmp_path, simulator, "characters")
    assert "- Hero  Vidu Q3 ready; Sora 2: no longer offered by the video service" in out
