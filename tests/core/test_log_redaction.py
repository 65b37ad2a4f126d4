"""Secrets never reach a log line, whoever logs them and at whatever level."""

from __future__ import annotations

import io
import logging

from bot.runtime.log_redaction import REDACTED, RedactingFormatter, SecretRegistry

TOKEN = "MTA5ODc2NTQzMjEwOTg3NjU0.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789"
KEY = "sk-live-0123456789abcdef"
INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OkFCQ0RFRkdI"


def capture(logger_name: str, level: int, *args, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(registry=SecretRegistry([TOKEN, KEY])))
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        if exc:
            try:
                raise RuntimeError(f"boom with {KEY}")
            except RuntimeError:
                logger.exception(*args)
        else:
            logger.log(level, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_configured_secrets_are_replaced_in_args_and_messages():
    out = capture("discord.http", logging.DEBUG, "token %s key %s", TOKEN, KEY)
    assert TOKEN not in out and KEY not in out and REDACTED in out


def test_interaction_tokens_in_urls_and_payloads_are_hidden():
    url = f"PATCH https://discord.com/api/v10/webhooks/123456/{INTERACTION}/messages/@original"
    payload = {"t": "INTERACTION_CREATE", "d": {"token": "anything-else-123456", "id": "1"}}
    out = capture("discord.gateway", logging.DEBUG, "%s %s", url, payload)
    assert INTERACTION not in out and "anything-else-123456" not in out
    assert "/webhooks/123456/" in out


def test_bearer_headers_and_signed_query_strings_are_hidden():
    out = capture(
        "httpx",
        logging.INFO,
        "Authorization: Bearer abcdefghijklmnopqrstu "
        "GET https://cdn.discordapp.com/a/b.mp4?ex=1&is=2&hm=signature done",
    )
    assert "abcdefghijklmnopqrstu" not in out and "signature" not in out
    assert "https://cdn.discordapp.com/a/b.mp4?" in out


def test_tracebacks_are_redacted_too():
    out = capture("bot", logging.ERROR, "failed", exc=True)
    assert "Traceback" in out and KEY not in out
