"""Prometheus metrics: counters the code bumps; gauges the server reads from storage when
scraped.

One registry of our own (not the process-wide default), so `/metrics` shows exactly these.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

TOAPIS_REQUESTS = Counter(
    "sora_toapis_requests",
    "toapis requests by endpoint and outcome (ok, 4xx, 429, 5xx, timeout, unreachable)",
    ["endpoint", "outcome"],
    registry=REGISTRY,
)
TOAPIS_LATENCY = Histogram(
    "sora_toapis_request_seconds",
    "toapis request latency by endpoint",
    ["endpoint"],
    registry=REGISTRY,
)
WEBHOOK_EVENTS = Counter(
    "sora_webhook_events",
    "toapis webhook events by outcome (applied, duplicate, unknown_task, ignored, "
    "failed, bad_signature, stale_or_malformed)",
    ["outcome"],
    registry=REGISTRY,
)
DISCORD_WRITES = Counter(
    "sora_discord_writes", "Discord edits and messages by kind", ["kind"], registry=REGISTRY
)
CARDS_DELIVERED = Counter("sora_cards_delivered", "Character cards shown", registry=REGISTRY)
DISCORD_429 = Counter(
    "sora_discord_rate_limited", "Discord 429 answers discord.py waited out", registry=REGISTRY
)
QUEUE_LENGTH = Gauge(
    "sora_queue_length", "Jobs in the submit line (preparing or waiting)", registry=REGISTRY
)
QUEUE_WAIT = Histogram(
    "sora_queue_wait_seconds",
    "Time from a job's creation to its create request being accepted",
    registry=REGISTRY,
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
)
JOBS = Gauge("sora_jobs", "Jobs by state", ["state"], registry=REGISTRY)
UNDELIVERED = Gauge(
    "sora_undelivered_outcomes", "Finished jobs whose outcome is not shown yet", registry=REGISTRY
)
CHARACTERS = Gauge("sora_characters", "Characters stored, all servers", registry=REGISTRY)
EVENT_LOOP_LAG = Histogram(
    "sora_event_loop_lag_seconds",
    "How late the event loop woke a short timer (sampled 4 times a second)",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def endpoint_of(path: str) -> str:
    """A path without ids, so the label set stays small."""
    for prefix in (
        "/v1/characters_tasks/",
        "/v1/videos/generations/",
        "/v1/videos/doubao-seedance-2-0/private-avatar/assets/",
    ):
        if path.startswith(prefix):
            return prefix + "{id}"
    return path


class DiscordRateLimits(logging.Filter):
    """Counts the 429s discord.py reports (it waits them out itself); lets every record by."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Count, never drop."""
        if "rate limit" in record.getMessage().lower():
            DISCORD_429.inc()
        return True
