"""What the owner reads at a terminal: a local file as the source, no log lines unless
`-v`, the account refused at once, `characters` without a toapis key, a description for
every command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from bot.cli.main import build_parser
from bot.domain.records import SourceKind
from bot.media.orders import AttachmentInfo, OrderError, plan_order
from tests.core.test_cli import run_bot_cli


async def test_create_from_a_local_file_cuts_and_uploads_it(tmp_path, simulator, short_video):
    args = ["create", "--file", str(short_video), "--start", "1", "--end", "3", "--guild", "4"]
    # a file on this machine needs no private-address allowance: nothing fetches it by URL
    code, out, err = await run_bot_cli(
        tmp_path, simulator, *args, extra={"ALLOW_PRIVATE_URLS": "false", "LOG_LEVEL": "DEBUG"}
    )
    assert code == 0, (out, err)
    assert "cut the moment and uploaded it; toapis reads 1-3 s of it" in out
    assert "submitting short.mp4 1-3 s with sora-2" in out
    assert "character ready:" in out
    assert err == ""  # no log lines without -v, even at LOG_LEVEL=DEBUG
    assert [r for r in simulator.requests if r.path == "/v1/uploads/videos"]
    [sent] = [
        r.body for r in simulator.requests if isinstance(r.body, dict) and "timestamps" in r.body
    ]
    assert sent["timestamps"] == "1,3" and "/uploads/videos/" in sent["url"]

    # the list reads the database only: no toapis key needed
    no_key = {"TOAPIS_API_KEY": "", "TOAPIS_BASE_URL": "http://127.0.0.1:9"}
    listing = ["characters", "--guild", "4"]
    code, out, err = await run_bot_cli(tmp_path, simulator, *listing, extra=no_key)
    assert code == 0, err
    assert out.startswith("1 character(s) in server 4\n- ")


async def test_a_missing_local_file_is_one_line(tmp_path, simulator):
    missing = tmp_path / "nowhere.mp4"
    code, _, err = await run_bot_cli(
        tmp_path, simulator, "create", "--file", str(missing), "--start", "1", "--end", "3"
    )
    assert code == 2 and err == f"error: {missing} is not a file.\n"
    assert simulator.requests == []


def test_member_facing_orders_never_carry_a_local_path(short_video) -> None:
    with pytest.raises(OrderError):
        plan_order(url=short_video.as_uri(), start=1, end=3)
    attached = AttachmentInfo(url=short_video.as_uri(), filename="short.mp4", size=10)
    order = plan_order(video=attached, start=1, end=3)
    assert order.kind is SourceKind.ATTACHMENT and order.path is None


@pytest.mark.parametrize(
    ("scenario", "env", "line"),
    [
        (
            {},
            {"TOAPIS_API_KEY": "not-the-key"},
            "toapis refused the API key (401): check TOAPIS_API_KEY",
        ),
        (
            {"out_of_credit": True},
            {},
            "the toapis account has no credit left (402): top it up, then try again",
        ),
    ],
)
async def test_a_refused_account_ends_create_at_once(
    tmp_path, simulator, media_server, short_video, scenario, env, line
):
    simulator.scenario.update(**scenario)
    url = f"{media_server}/{short_video.name}"
    # --give-up longer than the test waits for the process: it must end on the refusal
    args = ["create", "--url", url, "--start", "1", "--end", "3", "--give-up", "600"]
    code, out, err = await run_bot_cli(tmp_path, simulator, *args, extra=env)
    assert code == 1, (out, err)
    assert f"error: {line}. Nothing was sent or charged." in out
    assert "owner has been told" not in out + err and "retrying" not in out


async def test_a_refused_key_when_uploading_a_local_file_is_the_same_line(
    tmp_path, simulator, short_video
):
    args = ["create", "--file", str(short_video), "--start", "1", "--end", "3"]
    code, out, err = await run_bot_cli(
        tmp_path, simulator, *args, extra={"TOAPIS_API_KEY": "not-the-key"}
    )
    assert code == 1, (out, err)
    assert err == "error: toapis refused the API key (401): check TOAPIS_API_KEY\n"


async def test_verbose_prints_the_log_lines(tmp_path, simulator, media_server, short_video):
    url = f"{media_server}/{short_video.name}"
    args = ["create", "--url", url, "--start", "1", "--end", "3", "-v"]
    code, _, err = await run_bot_cli(tmp_path, simulator, *args, extra={"LOG_LEVEL": "DEBUG"})
    assert code == 0 and "job 1: toapis task " in err


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, str]:
    """Every (sub)command's name and its `--help`."""
    found: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub.format_help()
                found.update(_commands(sub, f"{prefix}{name} "))
    return found


def test_every_command_says_what_it_does_in_its_help(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    shown = _commands(build_parser())
    assert {"run", "create", "demo", "doctor", "characters", "admin", "admin jobs"} <= set(shown)
    for name, text in shown.items():
        _usage, description, *_ = text.split("\n\n")
        assert description and not description.startswith(("options:", "positional")), name
    assert "--file PATH" in shown["create"] and "a video file on this machine" in shown["create"]
    assert "no toapis key needed" in shown["characters"]


def test_no_command_leaves_the_environment_key_out(tmp_path) -> None:
    # `characters` against a fresh database, no key at all in the environment
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOAPIS_", "DISCORD_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    shown = subprocess.run(
        [sys.executable, "-m", "bot", "characters"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(tmp_path),
        env=env,
        check=False,
    )
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "0 character(s) in server 0\n", "")
