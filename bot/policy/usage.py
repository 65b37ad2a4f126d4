"""The usage report: jobs toapis accepted per server and member, for a day, a week and a
month, with failures (the admin CLI prints it; an owner command can show it too)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.domain.records import UsageCount
from storage import UsageRepository
from storage.database import Database

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Period:
    """One column of the report."""

    name: str
    since: float


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One member of one server (member None: forgotten members and CLI jobs)."""

    guild_id: int
    requester_id: int | None
    jobs: tuple[int, ...]  # per period, in the report's order
    failed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Per server: its total line (requester None and `total`) and one line per member."""

    periods: tuple[Period, ...]
    servers: dict[int, tuple[UsageLine, list[UsageLine]]]


def periods(now: float) -> tuple[Period, ...]:
    """Today (the UTC day, as the spending limits count), the last 7 and 30 days."""
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Period("today (UTC)", midnight.timestamp()),
        Period("7 days", now - 7 * DAY),
        Period("30 days", now - 30 * DAY),
    )


async def usage_report(
    repository: UsageRepository, guild_id: int | None = None, *, now: float | None = None
) -> UsageReport:
    """Build the report for one server or all of them."""
    columns = periods(time.time() if now is None else now)
    counts: list[list[UsageCount]] = [await repository.since(p.since, guild_id) for p in columns]
    jobs: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0] * len(columns))
    failed: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0] * len(columns))
    for index, rows in enumerate(counts):
        for row in rows:
            key = (row.guild_id, row.requester_id)
            jobs[key][index] += row.jobs
            failed[key][index] += row.failed
    servers: dict[int, tuple[UsageLine, list[UsageLine]]] = {}
    for server in sorted({key[0] for key in jobs}):
        members = [
            UsageLine(server, key[1], tuple(jobs[key]), tuple(failed[key]))
            for key in jobs
            if key[0] == server
        ]
        members.sort(key=lambda line: (-line.jobs[-1], line.requester_id or 0))
        total = UsageLine(
            server,
            None,
            tuple(sum(line.jobs[i] for line in members) for i in range(len(columns))),
            tuple(sum(line.failed[i] for line in members) for i in range(len(columns))),
        )
        servers[server] = (total, members)
    return UsageReport(columns, servers)


async def report_from(database: Database, guild_id: int | None = None) -> UsageReport:
    """The report read from `database` (for callers that do not hold a repository)."""
    return await usage_report(UsageRepository(database), guild_id)


def format_report(report: UsageReport) -> str:
    """Plain text: one block per server, member lines under the server's total."""
    if not report.servers:
        return "no jobs accepted by toapis in the last 30 days"
    head = "".join(f"{p.name:>20}" for p in report.periods)
    lines = [f"{'':<28}{head}", f"{'':<28}" + f"{'jobs (failed)':>20}" * len(report.periods)]
    for server, (total, members) in report.servers.items():
        lines.append(f"server {server:<21}" + _cells(total))
        for line in members:
            who = f"member {line.requester_id}" if line.requester_id else "(forgotten / CLI)"
            lines.append(f"  {who:<26}" + _cells(line))
    return "\n".join(lines)


def _cells(line: UsageLine) -> str:
    return "".join(f"{f'{j} ({f})':>20}" for j, f in zip(line.jobs, line.failed, strict=True))
