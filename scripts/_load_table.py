"""The table `bench_load.py` prints: one row per metric, a column per bot that ran, and
each bot's ratio to the naive one."""

from __future__ import annotations

import math
from typing import Any

ROWS: list[tuple[str, str, str, float]] = [
    (
        "CPU while every job waits (last sent -> first done), % of a core per 100 jobs",
        "wait_cpu_per_100",
        "{:.2f}",
        1,
    ),
    ("  (that window, s)", "wait_seconds", "{:.1f}", 1),
    ("completion to card p50, s", "card_p50", "{:.2f}", 1),
    ("completion to card p95, s", "card_p95", "{:.2f}", 1),
    ("toapis requests", "requests", "{:.0f}", 1),
    ("CPU over the whole run per job, ms", "run_cpu_per_job", "{:.1f}", 1000),
    ("  (the run, s)", "run_seconds", "{:.0f}", 1),
    ("memory slope (all sent - first sent) / (jobs - 1), KiB", "rss_slope", "{:.1f}", 1 / 1024),
    ("429s received", "limited", "{:.0f}", 1),
    ("Discord writes per job", "writes_per_job", "{:.2f}", 1),
    ("event-loop lag p99, ms", "lag_p99", "{:.1f}", 1000),
    ("lost cards", "lost", "{:.0f}", 1),
    ("duplicated cards", "duplicated", "{:.0f}", 1),
]


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs and not math.isnan(ours / theirs) else "-"


def figure(form: str, value: float) -> str:
    return "-" if math.isnan(value) else form.format(value)


def table(jobs: int, seconds: float, spread: float, results: dict[str, dict[str, Any]]) -> str:
    """One row per metric, a column per bot that ran, and each bot's ratio to the naive."""
    bots = [mode for mode in MODES if mode in results and mode != "naive"]
    naive = results.get("naive")
    header = [TITLES[mode] for mode in MODES if mode in results]
    if naive is not None:
        header += [f"{TITLES[mode]} / naive" for mode in bots]
    lines = [
        f"{jobs} jobs, {seconds:.0f} s tasks (+-{spread:.0%}, seeded), default tier enforced"
        " (5 submits/s, 50 queries/s)",
        "| metric | " + " | ".join(header) + " |",
        "|---|" + "---:|" * len(header),
    ]
    for name, key, form, scale in ROWS:
        cells = [figure(form, results[m][key] * scale) for m in MODES if m in results]
        if naive is not None:
            cells += [ratio(results[m][key] * scale, naive[key] * scale) for m in bots]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if naive is not None:
        lines += ["", *(targets(mode, results[mode], naive) for mode in bots)]
    return "\n".join(lines)


def targets(mode: str, ours: dict[str, Any], naive: dict[str, Any]) -> str:
    """Issue 26's four targets for one bot against the naive one: held or missed."""
    checks = [
        ("waiting CPU under 1 %", ours["wait_cpu_per_100"] < 1.0),
        (
            "card p95 <= naive + 0.5 s, requests <= a third",
            ours["card_p95"] <= naive["card_p95"] + 0.5
            and ours["requests"] * 3 <= naive["requests"],
        ),
        (
            "run CPU per job <= 0.6x naive",
            ours["run_cpu_per_job"] <= 0.6 * naive["run_cpu_per_job"],
        ),
        ("memory slope under 50 KiB", ours["rss_slope"] < 50 * 1024),
    ]
    said = "; ".join(f"{name}: {'held' if held else 'MISSED'}" for name, held in checks)
    return f"{TITLES[mode]}: {said}"


MODES = ("real", "webhooks", "naive")
TITLES = {"real": "bot, polling", "webhooks": "bot, webhooks", "naive": "naive"}
