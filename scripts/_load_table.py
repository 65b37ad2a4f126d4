"""The table `bench_load.py` prints: one row per metric, a column per bot that ran, and
each bot's ratio to the naive one."""

from __future__ import annotations

import math
from typing import Any

ROWS: list[tuple[str, str, str, float]] = [
    ("CPU, % of one core per 100 waiting jobs", "cpu_per_100", "{:.2f}", 1),
    (
        "CPU while all jobs wait at toapis, % of one core per 100 jobs",
        "idle_cpu_per_100",
        "{:.2f}",
        1,
    ),
    ("  (that window, s)", "idle_seconds", "{:.0f}", 1),
    ("RSS per job, KiB", "rss_per_job", "{:.1f}", 1 / 1024),
    ("toapis requests per job", "requests_per_job", "{:.2f}", 1),
    ("429s received", "limited", "{:.0f}", 1),
    ("Discord writes per job", "writes_per_job", "{:.2f}", 1),
    ("completion to card p50, s", "card_p50", "{:.2f}", 1),
    ("completion to card p95, s", "card_p95", "{:.2f}", 1),
    ("event-loop lag p99, ms", "lag_p99", "{:.1f}", 1000),
    ("lost cards", "lost", "{:.0f}", 1),
    ("duplicated cards", "duplicated", "{:.0f}", 1),
]


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs and not math.isnan(ours / theirs) else "-"


def figure(form: str, value: float) -> str:
    return "-" if math.isnan(value) else form.format(value)


def table(jobs: int, seconds: float, results: dict[str, dict[str, Any]]) -> str:
    """One row per metric, a column per bot that ran, and each bot's ratio to the naive."""
    bots = [mode for mode in MODES if mode in results and mode != "naive"]
    naive = results.get("naive")
    header = [TITLES[mode] for mode in MODES if mode in results]
    if naive is not None:
        header += [f"{TITLES[mode]} / naive" for mode in bots]
    lines = [
        f"{jobs} jobs, {seconds:.0f} s tasks, default tier enforced (5 submits/s, 50 queries/s)",
        "| metric | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(header),
    ]
    for name, key, form, scale in ROWS:
        cells = [figure(form, results[m][key] * scale) for m in MODES if m in results]
        if naive is not None:
            cells += [ratio(results[m][key] * scale, naive[key] * scale) for m in bots]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


MODES = ("real", "webhooks", "naive")
TITLES = {"real": "bot, polling", "webhooks": "bot, webhooks", "naive": "naive"}
