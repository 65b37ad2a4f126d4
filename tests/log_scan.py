"""The log scan of the whole test run (issue 7): no configured secret in any log line.

`tests/conftest.py` writes every in-process log record through the production
`RedactingFormatter` (with the secrets production registers: the bot token and the API
key) to `session.log` under the session's temporary directory; subprocess tests (smoke,
crash) write their bots' stderr to `*.log` files under the same directory. At the end of
the session every `*.log` there is scanned for the bot token, the simulator's API key,
the S3 secret key of the likeness store tests and every interaction token a
`FakeDiscord` was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

MIN_TOKEN_LENGTH = 16  # shorter strings could appear in logs by chance
FINDINGS_FILE = "log-scan-findings.txt"  # a pytest-xdist worker's findings, for the controller


def configured_secrets() -> dict[str, str]:
    """Secret value -> what it is (never print the value itself)."""
    from bot.simulator import Scenario
    from tests.cogs.conftest import BOT_TOKEN
    from tests.fakes.discord_store import SEEN_INTERACTION_TOKENS
    from tests.s3_server import SECRET_KEY

    found = {
        BOT_TOKEN: "the Discord bot token",
        Scenario().api_key: "the toapis API key",
        SECRET_KEY: "the S3 secret key of the likeness store tests",
    }
    for token in sorted(SEEN_INTERACTION_TOKENS):
        if len(token) >= MIN_TOKEN_LENGTH:
            found.setdefault(token, f"an interaction token ({token[:12]}…)")
    return found


def scan_lines(name: str, lines: Iterable[str], secrets: Mapping[str, str]) -> list[str]:
    """`name:line: <what>` for every line that contains one of `secrets`."""
    findings = []
    for number, line in enumerate(lines, 1):
        for value, what in secrets.items():
            if value in line:
                findings.append(f"{name}:{number}: {what}")
    return findings


def scan_logs(root: Path, secrets: Mapping[str, str]) -> list[str]:
    """Scan every `*.log` file under `root`."""
    findings: list[str] = []
    for path in sorted(root.rglob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        findings += scan_lines(str(path.relative_to(root)), text.splitlines(), secrets)
    return findings


def collect_findings(root: Path) -> list[str]:
    """The findings every pytest-xdist worker left under `root` (their temporary folders)."""
    findings: list[str] = []
    for path in sorted(root.glob(f"*/{FINDINGS_FILE}")):
        findings += path.read_text(encoding="utf-8").splitlines()
    return findings
