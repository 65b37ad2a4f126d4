"""The session's log scan can fail: a line with a secret is found, a redacted one is not."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from bot.runtime.log_redaction import RedactingFormatter, SecretRegistry
from tests.cogs.conftest import BOT_TOKEN
from tests.fakes import interaction_token
from tests.log_scan import configured_secrets, scan_lines, scan_logs


def test_a_line_with_a_secret_is_found():
    token = interaction_token()
    secrets = {BOT_TOKEN: "the Discord bot token", token: "an interaction token"}
    lines = ["fine", f"PATCH /webhooks/1/{token}/messages/@original", f"Bot {BOT_TOKEN}"]
    assert scan_lines("x.log", lines, secrets) == [
        "x.log:2: an interaction token",
        "x.log:3: the Discord bot token",
    ]


def test_log_files_are_scanned_and_production_formatting_passes():
    token = interaction_token()
    secrets = {BOT_TOKEN: "the Discord bot token", token: "an interaction token"}
    record = logging.LogRecord(
        "discord.webhook", logging.DEBUG, __file__, 1, "PATCH %s token=%s", (token, BOT_TOKEN), None
    )
    redacted = RedactingFormatter(registry=SecretRegistry([BOT_TOKEN])).format(record)
    with tempfile.TemporaryDirectory() as where:  # outside the session's scanned directory
        root = Path(where)
        (root / "raw.log").write_text(f"{record.getMessage()}\n")
        (root / "sub").mkdir()
        (root / "sub" / "redacted.log").write_text(f"{redacted}\n")
        (root / "other.txt").write_text(BOT_TOKEN)
        assert scan_logs(root, secrets) == [
            "raw.log:1: the Discord bot token",
            "raw.log:1: an interaction token",
        ]


def test_the_configured_secrets_include_the_tokens_fakes_were_given(fake_discord):
    from tests.fakes import payloads

    command = payloads.slash_command("help")
    fake_discord.register_interaction(command)
    secrets = configured_secrets()
    assert command["token"] in secrets and command["token"] in fake_discord.interaction_tokens
    assert BOT_TOKEN in secrets and "sim-key" in secrets


def test_the_controller_collects_what_each_parallel_worker_found():
    from tests.log_scan import FINDINGS_FILE, collect_findings

    with tempfile.TemporaryDirectory() as where:
        root = Path(where)
        for worker, found in (("popen-gw0", "a.log:3: the Discord bot token"), ("popen-gw1", "")):
            (root / worker).mkdir()
            if found:
                (root / worker / FINDINGS_FILE).write_text(found)
        (root / "popen-gw2").mkdir()
        assert collect_findings(root) == ["a.log:3: the Discord bot token"]
