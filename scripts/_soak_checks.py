"""The checks of a soak run and the table of its figures."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from typing import Any

from _soak_bot import Sample, lag_p99

MIB = 1024 * 1024
MEMORY_LIMIT = 40 * MIB
LAG_LIMIT = 0.1
SETTLE_LIMIT = 600.0
KILL_GRACE = 3.0  # a request dispatched this close to a SIGKILL may die unanswered
# (and one dispatched to the dead process's connection before the fake gateway saw it close)
AFTER_RESTART = 30.0  # resuming every job right after a start counts as the restart

Check = tuple[str, bool, str]


@dataclass
class Figures:
    """What a run measured."""

    report: dict[str, Any]
    samples: list[Sample]
    restarts: list[tuple[float, float]]
    started: float
    ended: float  # the last arrival
    settled: float  # seconds after the last arrival
    exit_status: int | None


def unanswered_at_kill(figures: Figures) -> tuple[list[Any], list[Any]]:
    """Requests never acknowledged: (dispatched from just before a SIGKILL until the new
    process was ready, any other)."""
    explained: list[Any] = []
    other: list[Any] = []
    for case in figures.report["not_final"]:
        near = any(
            killed - KILL_GRACE <= case["arrived"] <= ready for killed, ready in figures.restarts
        )
        (explained if case["state"] == "unanswered" and near else other).append(case)
    return explained, other


def memory_growth(figures: Figures) -> float | None:
    """RSS growth (bytes) over the last third of the run, in the process alive then."""
    third = figures.ended - (figures.ended - figures.started) / 3
    last = [s for s in figures.samples if third <= s.at <= figures.ended]
    if not last:
        return None
    pid = last[-1].pid
    mine = [s.rss for s in last if s.pid == pid]
    if len(mine) < 4:
        return None
    head, tail = mine[: max(2, len(mine) // 10)], mine[-max(2, len(mine) // 10) :]
    return statistics.median(tail) - statistics.median(head)


def lag(figures: Figures) -> dict[str, Any]:
    excluded = [(killed, ready + AFTER_RESTART) for killed, ready in figures.restarts]
    if figures.samples:  # the first start resumes nothing, but warms up
        excluded.append((0.0, figures.samples[0].at + AFTER_RESTART))
    return lag_p99(figures.samples, excluded)


def checks(figures: Figures, *, quick: bool) -> list[Check]:
    report = figures.report
    _, other = unanswered_at_kill(figures)
    missing = [m for m in report["cards_missing"] if m["request"] != "reason"]
    results: list[Check] = [
        (
            "toapis accepted at most one task per request",
            not report["tasks_twice"],
            f"{len(report['tasks_twice'])} request(s) with two or more",
        ),
        (
            "every completed character's card is in exactly one message",
            not report["cards_twice"] and not missing,
            f"{len(report['cards_twice'])} shown twice, {len(missing)} not shown",
        ),
        (
            "every request final within 10 min of the last arrival",
            not other and figures.settled <= SETTLE_LIMIT,
            f"{len(other)} left without a final answer; settled after {figures.settled:.0f} s",
        ),
    ]
    if not quick:
        growth = memory_growth(figures)
        results.append(
            (
                "RSS growth in the last third under 40 MiB",
                growth is not None and growth < MEMORY_LIMIT,
                "no samples" if growth is None else f"{growth / MIB:.1f} MiB",
            )
        )
        lagged = lag(figures)
        results.append(
            (
                "event-loop lag p99 under 100 ms outside restarts",
                lagged["samples"] > 0 and lagged["p99"] < LAG_LIMIT,
                f"p99 <= {lagged['p99'] * 1000:g} ms, {lagged['over_100ms']:.2%} over 100 ms",
            )
        )
    return results


def table(figures: Figures, results: list[Check], args: argparse.Namespace) -> str:
    report = figures.report
    explained, _ = unanswered_at_kill(figures)
    outcomes = report["outcomes"]
    lagged = lag(figures)
    growth = memory_growth(figures)
    rss = [s.rss for s in figures.samples]
    rows = [
        ("requests sent", report["requests"]),
        ("  card shown", outcomes.get("card", 0)),
        ("  a reason shown", outcomes.get("reason", 0)),
        *((f"    {label or '(no title)'}", n) for label, n in sorted(report["reasons"].items())),
        ("  unanswered, dispatched <= 3 s before a SIGKILL or during the restart", len(explained)),
        ("  left silent", outcomes.get("silent", 0)),
        ("create requests sent to toapis", report["create_requests"]),
        ("tasks toapis accepted", report["tasks"]),
        ("tasks completed", report["completed"]),
        ("completed, not shown (request shown a reason)", len(report["cards_missing"])),
        ("seconds from the last arrival until settled", f"{figures.settled:.0f}"),
        ("SIGKILLs (restart seconds)", restart_words(figures)),
        *((f"toapis fault {k}", v) for k, v in sorted(report["toapis_faults"].items())),
        ("toapis 429s of the tier (submit/query)", tier_429s(report)),
        *((f"Discord fault {k}", v) for k, v in sorted(report["discord_faults"].items())),
        ("replies deleted by a moderator", report["moderator_deletes"]),
        ("  (reply already final, not deleted)", report["moderator_too_late"]),
        ("bot RSS first / peak (MiB)", rss_words(rss)),
        ("RSS growth, last third (MiB)", "-" if growth is None else f"{growth / MIB:.1f}"),
        ("lag samples outside restarts", lagged["samples"]),
        ("lag p99 (bucket bound, ms)", f"{lagged['p99'] * 1000:g}"),
        ("lag samples over 100 ms", f"{lagged['over_100ms']:.2%}"),
        ("bot exit status on SIGTERM", figures.exit_status),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"soak: {args.minutes:g} min, {args.requests} requests, seed {args.seed}"]
    lines += [f"{name:<{width}}  {value}" for name, value in rows]
    lines.append("")
    lines += [f"{'PASS' if ok else 'FAIL'}  {name}: {detail}" for name, ok, detail in results]
    for case in report["not_final"]:
        lines.append(f"  not final: request {case['n']} {case['state']}: {case['shows'][:100]}")
    for case in report["tasks_twice"]:
        lines.append(f"  twice at toapis: request {case['n']}: {case['tasks']}")
    for case in report["cards_twice"]:
        lines.append(f"  card twice: {case['task']} in {case['messages']} messages")
    return "\n".join(lines)


def restart_words(figures: Figures) -> str:
    spans = [f"{ready - killed:.1f}" for killed, ready in figures.restarts]
    return f"{len(figures.restarts)} ({', '.join(spans) or '-'})"


def tier_429s(report: dict[str, Any]) -> str:
    limits = report["toapis_limited"]
    return f"{limits['submit']['limited']}/{limits['query']['limited']}"


def rss_words(rss: list[int]) -> str:
    if not rss:
        return "-"
    return f"{rss[0] / MIB:.0f} / {max(rss) / MIB:.0f}"
