"""Logging that never shows secrets.

The redaction happens in the formatter of every handler we install, so it covers every
logger (discord.py, httpx, aiohttp, yt-dlp) at every level, exception text included.
Redacted: configured secrets, interaction tokens (in webhook/callback URLs and in gateway
payloads), `Authorization` / bearer values, and query strings of URLs (signed CDN links).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Interaction / webhook tokens inside REST paths.
    (re.compile(r"(/webhooks/\d+/)[A-Za-z0-9_\-.]+"), r"\1" + REDACTED),
    (re.compile(r"(/interactions/\d+/)[A-Za-z0-9_\-.]+"), r"\1" + REDACTED),
    # "token": "..." in gateway / REST JSON payloads (Python reprs use single quotes).
    (re.compile(r"""(["']token["']\s*:\s*["'])[^"']+(["'])"""), r"\1" + REDACTED + r"\2"),
    # Interaction tokens start with base64("interaction:").
    (re.compile(r"aW50ZXJhY3Rpb246[A-Za-z0-9_\-.]+"), REDACTED),
    # Authorization headers.
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer |bot )?[^\s'\",}]+"),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|bot)\s+[A-Za-z0-9_\-.]{16,}"), r"\1 " + REDACTED),
    # Query strings of URLs (signed attachment/CDN parameters).
    (re.compile(r"(https?://[^\s?#'\"<>]+)\?[^\s'\"<>]*"), r"\1?" + REDACTED),
)


class SecretRegistry:
    """The literal secret values to hide; more can be added at run time."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Hide these values from now on (values shorter than 6 characters are ignored)."""
        with self._lock:
            merged = set(self._secrets) | {s for s in secrets if s and len(s) >= 6}
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """`text` with every secret and token-shaped value replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


SECRETS = SecretRegistry()


def redact(text: str) -> str:
    """Redact with the process-wide registry."""
    return SECRETS.redact(text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose every output line went through `redact`."""

    def __init__(self, fmt: str | None = None, registry: SecretRegistry = SECRETS) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.registry = registry

    def format(self, record: logging.LogRecord) -> str:
        """Format as usual, then redact the whole line (message, args and traceback)."""
        return self.registry.redact(super().format(record))


# Structured fields a log call may pass with `extra=` (and that JSON lines carry).
FIELDS = ("job_id", "guild_id", "task_id", "event")
_JOB = re.compile(r"\bjob (\d+)\b")
_TASK = re.compile(r"\btask ([A-Za-z0-9_\-]{4,100})\b")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the job's id, guild,
    task id and event where the call gave them (job and task are also read from the
    message, "job 12: ... task T"). Redacted like the text format, field by field."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self.registry = registry

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line, every string redacted."""
        message = self.registry.redact(record.getMessage())
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = self.registry.redact(str(value)) if isinstance(value, str) else value
        if "job_id" not in line and (found := _JOB.search(message)):
            line["job_id"] = int(found.group(1))
        if "task_id" not in line and (found := _TASK.search(message)):
            line["task_id"] = found.group(1)
        if record.exc_info:
            line["exception"] = self.registry.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def setup_logging(
    level: str = "INFO",
    secrets: Iterable[str] = (),
    *,
    json_lines: bool = False,
    quiet: bool = False,
) -> None:
    """Route all logging to stderr through the redacting formatter (text or JSON lines);
    `quiet`: nowhere (a command at a terminal prints its own lines instead)."""
    SECRETS.add(*secrets)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_sora_redacting", False):
            root.removeHandler(old)
    handler: logging.Handler = logging.NullHandler() if quiet else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else RedactingFormatter())
    handler._sora_redacting = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO; keep that for DEBUG runs only.
    logging.getLogger("httpx").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
