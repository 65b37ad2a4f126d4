"""Benchmark the character library queries on 1,000,000 characters in one guild.

Not a test: run ``python scripts/bench_library.py [--backend sqlite|postgresql|both]``
and read the tables. Each query runs through the real repository over
``open_database`` (aiosqlite or asyncpg included), next to naive baselines: a substring
test that no index can serve, and deep ``OFFSET`` paging. PostgreSQL runs
when ``--database-url`` or ``TEST_DATABASE_URL`` names a server: the benchmark creates
its own database there and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage import CharacterRepository, Database, open_database
from storage.characters import CONTAINS, search_key
from storage.postgres.database import PostgresDatabase, redact

GUILD = 1
OTHER_GUILD = 2
LIST_TARGET_MS = 2.0  # list pages and prefix autocomplete
SUBSTRING_TARGET_MS = 10.0  # substring search, 3 characters or more
PAGE = 10  # the /character list page size
CREATORS = 200
BENCH_DATABASE = "bench_library"

FIRST = ["Captain", "Lady", "Sir", "Doctor", "Agent", "Professor", "Little", "Big", "Old",
         "Young", "Dark", "Bright", "Silent", "Lucky", "Brave", "Señor", "Frau"]  # fmt: skip
SYLLABLES = ["ka", "mi", "ra", "to", "lu", "ne", "so", "ri", "an", "el", "or", "va", "zu",
             "shi", "ko", "da", "be", "ma", "no", "te", "yu", "ha", "ße", "ño"]  # fmt: skip

COLUMNS = ["guild_id", "character_id", "task_id", "display_name", "name_key", "username",
           "username_key", "creator_id", "created_at"]  # fmt: skip
INSERT = (
    f"INSERT INTO characters ({', '.join(COLUMNS)}) "  # noqa: S608 (constant SQL)
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)
# PostgreSQL: the narrow twin of the keys that substring search reads (migration 14),
# filled by a trigger row by row in the bot, here at once.
KEYS = (
    "INSERT INTO character_keys (id, guild_id, name_key, username_key) "
    "SELECT id, guild_id, name_key, username_key FROM characters"
)
TABLES = ("characters", "character_keys", "character_counts")
COUNTS = (
    "INSERT INTO character_counts (guild_id, total) "
    "SELECT guild_id, count(*) FROM characters GROUP BY guild_id"
)

# What a naive implementation would run: a substring test that no index can serve.
NAIVE_SUBSTRING = (
    "SELECT id, display_name FROM characters WHERE guild_id = ? "
    "AND ({name} OR {user}) ORDER BY id DESC LIMIT 25"
)


def make_name(rng: random.Random) -> tuple[str, str]:
    """A plausible display name and username."""
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
    display = f"{rng.choice(FIRST)} {word}" if rng.random() < 0.6 else word
    username = f"{word.lower()}.{rng.randint(0, 9999)}"
    return display, username


@dataclass
class Seed:
    """The characters to store: the same rows, in the same order, on every backend."""

    count: int
    others: int
    names: list[tuple[str, str]]  # a sample of the big guild's names, for the inputs

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row, in COLUMNS order, oldest first (generated again on each call)."""
        rng = random.Random(42)
        total = self.count + self.others
        every = total // max(self.others, 1)
        start = 1_700_000_000.0
        for index in range(total):
            guild = OTHER_GUILD if self.others and index % every == 0 else GUILD
            display, username = make_name(rng)
            yield (guild, f"ch_{index}", f"task_{index}", display, search_key(display),
                   username, search_key(username), rng.randint(1, CREATORS),
                   start + index)  # fmt: skip


def plan_seed(count: int, others: int, sample: int) -> Seed:
    """A seed plan, with a sample of names taken from its rows."""
    seed = Seed(count, others, [])
    keep = max(1, count // sample)
    seed.names = [(row[3], row[5]) for i, row in enumerate(seed.rows()) if i % keep == 7]
    return seed


def seed_sqlite(path: Path, seed: Seed) -> None:
    """Fill a migrated SQLite file: the table's indexes and triggers are set aside during
    one bulk insert, then created again; the FTS index and counts are built once."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA cache_size = -500000")
        extras = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'characters' "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ).fetchall()
        conn.execute("BEGIN")
        for kind, name, _ in extras:
            conn.execute(f'DROP {kind.upper()} "{name}"')
        conn.executemany(INSERT, seed.rows())
        for _, _, sql in extras:
            conn.execute(sql)
        conn.execute("INSERT INTO characters_fts (characters_fts) VALUES ('rebuild')")
        conn.execute("DELETE FROM character_counts")
        conn.execute(COUNTS)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


async def seed_postgres(db: PostgresDatabase, seed: Seed) -> None:
    """Fill a migrated PostgreSQL schema: COPY with the tables' own indexes dropped and
    the triggers off, the narrow search table filled from it in one statement, then the
    indexes built again, the counts filled, VACUUM ANALYZE."""
    async with db.connection() as conn:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes AS i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[]) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c "
            "WHERE c.conname = i.indexname AND c.connamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))",
            list(TABLES),
        )
        async with conn.transaction():
            await conn.execute("ALTER TABLE characters DISABLE TRIGGER USER")
            for index in indexes:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            await conn.copy_records_to_table("characters", records=seed.rows(), columns=COLUMNS)
            await conn.execute(KEYS)
            await conn.execute("ALTER TABLE characters ENABLE TRIGGER USER")
            await conn.execute("DELETE FROM character_counts")
            await conn.execute(COUNTS)
        for index in indexes:
            await conn.execute(index["indexdef"])
        for table in TABLES:
            await conn.execute(f"VACUUM ANALYZE {table}")


@dataclass
class Case:
    """One timed query: its label, its target (None for a baseline) and the call."""

    label: str
    target: float | None
    query: Callable[[int], Awaitable[object]]
    baseline: str | None = None  # the case this one is compared with


async def measure(runs: int, cases: Sequence[Case]) -> dict[str, tuple[float, float]]:
    """p50 and p95 in milliseconds of each case over ``runs`` calls, after a few warm-up
    calls. The cases take turns, so that a burst of other work on the machine slows
    them all alike instead of one case."""
    for index in range(5):
        for case in cases:
            await case.query(index)
    times: dict[str, list[float]] = {case.label: [] for case in cases}
    for index in range(runs):
        for case in cases:
            started = time.perf_counter()
            await case.query(index)
            times[case.label].append((time.perf_counter() - started) * 1000)
    results = {}
    for label, values in times.items():
        cuts = statistics.quantiles(values, n=100)
        results[label] = (cuts[49], cuts[94])
    return results


def inputs(names: Sequence[tuple[str, str]], rng: random.Random, runs: int) -> dict[str, list[str]]:
    """Varied, realistic autocomplete inputs for each kind of search (some miss)."""
    picks = [rng.choice(names) for _ in range(runs)]
    letters = "abcdefghijklmnoprstuvyz"
    substrings = []
    for display, username in picks:
        source = rng.choice([display, username])
        size = rng.randint(3, 6)
        start = rng.randint(1, max(1, len(source) - size))
        substrings.append(source[start : start + size])
    return {
        "1-char": [rng.choice(letters + letters.upper()) for _ in range(runs)],
        "2-char": [rng.choice([d, "@" + u, rng.choice(letters) + "q"])[:2] for d, u in picks],
        "prefix": [rng.choice([d, "@" + u])[:4].rstrip() for d, u in picks],
        "long prefix": [rng.choice([d, "@" + u])[: rng.randint(6, 12)] for d, u in picks],
        "substring": substrings,
        "miss": ["".join(rng.choice(letters) for _ in range(5)) + "q" for _ in range(runs)],
    }


async def bench(db: Database, seed: Seed, runs: int) -> bool:
    """Time every case on an open, seeded database; print its table. True if all meet."""
    rng = random.Random(7)
    repo = CharacterRepository(db)
    deep = (await repo.list_for_guild(GUILD, limit=1, offset=4999))[0]
    cursor = (deep.created_at, deep.id)
    text = inputs(seed.names, rng, runs)
    users = [rng.randint(1, CREATORS) for _ in range(runs)]
    pages = [rng.randint(1, 50) for _ in range(runs)]
    needles = [search_key(part) for part in text["substring"]]
    contains = CONTAINS[db.dialect]
    naive = NAIVE_SUBSTRING.format(
        name=contains.format("name_key"), user=contains.format("username_key")
    )
    cases = [
        Case("list page 1", LIST_TARGET_MS, lambda i: repo.list_for_guild(GUILD, limit=PAGE)),
        Case("list page 1, one creator", LIST_TARGET_MS,
             lambda i: repo.list_for_guild(GUILD, limit=PAGE, creator_id=users[i])),
        Case("list pages 2-51 (OFFSET, as /character list)", LIST_TARGET_MS,
             lambda i: repo.list_for_guild(GUILD, limit=PAGE, offset=pages[i] * PAGE)),
        Case("list page 501, keyset", LIST_TARGET_MS,
             lambda i: repo.list_for_guild(GUILD, limit=PAGE, before=cursor),
             "list page 501, OFFSET 5,000 (naive)"),
        Case("list page 501, OFFSET 5,000 (naive)", None,
             lambda i: repo.list_for_guild(GUILD, limit=PAGE, offset=5000)),
        Case("count", LIST_TARGET_MS, lambda i: repo.count_for_guild(GUILD)),
        Case("count, one creator", LIST_TARGET_MS,
             lambda i: repo.count_for_guild(GUILD, creator_id=users[i])),
        Case("search 1 char (prefix only)", LIST_TARGET_MS,
             lambda i: repo.search(GUILD, text["1-char"][i])),
        Case("search 2 chars (prefix only)", LIST_TARGET_MS,
             lambda i: repo.search(GUILD, text["2-char"][i])),
        Case("search prefix 3-4 chars, some @", LIST_TARGET_MS,
             lambda i: repo.search(GUILD, text["prefix"][i])),
        Case("search 6-12 chars (prefix, then substring)", SUBSTRING_TARGET_MS,
             lambda i: repo.search(GUILD, text["long prefix"][i])),
        Case("search substring 3-6 chars", SUBSTRING_TARGET_MS,
             lambda i: repo.search(GUILD, text["substring"][i]), "naive substring (no index)"),
        Case("search no match (6 chars)", SUBSTRING_TARGET_MS,
             lambda i: repo.search(GUILD, text["miss"][i]), "naive substring (no index)"),
        Case(f"search substring, other guild ({seed.others:,})", SUBSTRING_TARGET_MS,
             lambda i: repo.search(OTHER_GUILD, text["substring"][i])),
        Case("naive substring (no index)", None,
             lambda i: db.fetchall(naive, (GUILD, needles[i], needles[i]))),
    ]  # fmt: skip
    results = await measure(runs, cases)
    print(f"\n{db.dialect}, {seed.count:,} characters in one server, {runs} queries each")
    print(f"{'query':<46} {'p50 ms':>8} {'p95 ms':>8} {'target':>7} {'met':>5} {'naive/p95':>10}")
    ok = True
    for case in cases:
        p50, p95 = results[case.label]
        met = "-" if case.target is None else ("yes" if p95 < case.target else "NO")
        ok = ok and met != "NO"
        target = "base" if case.target is None else f"<{case.target:g}"
        ratio = f"{results[case.baseline][1] / p95:,.0f}x" if case.baseline else ""
        print(f"{case.label:<46} {p50:>8.3f} {p95:>8.3f} {target:>7} {met:>5} {ratio:>10}")
    return ok


async def run_sqlite(seed: Seed, runs: int) -> bool:
    """Seed a temporary SQLite file, then time it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        await (await open_database(path)).close()  # create and migrate
        started = time.perf_counter()
        seed_sqlite(path, seed)
        total = seed.count + seed.others
        print(f"\nsqlite: seeded {total:,} characters in {time.perf_counter() - started:.1f} s")
        async with await open_database(path) as db:
            return await bench(db, seed, runs)


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def run_postgres(url: str, seed: Seed, runs: int) -> bool:
    """Seed a new database on the server at ``url``, time it, then drop it."""
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {BENCH_DATABASE}")
        target = with_database(url, BENCH_DATABASE)
        try:
            db = await open_database(target, pool_size=2)
            assert isinstance(db, PostgresDatabase)
            async with db:
                started = time.perf_counter()
                await seed_postgres(db, seed)
                total = seed.count + seed.others
                print(
                    f"\npostgresql ({redact(target)}): seeded {total:,} characters "
                    f"in {time.perf_counter() - started:.1f} s"
                )
                return await bench(db, seed, runs)
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    finally:
        await admin.close()


async def run(backends: list[str], url: str | None, count: int, others: int, runs: int) -> bool:
    """Benchmark each backend in turn; True if every indexed query meets its target."""
    seed = plan_seed(count, others, sample=2000)
    ok = True
    if "sqlite" in backends:
        ok = await run_sqlite(seed, runs) and ok
    if "postgresql" in backends and url is not None:
        ok = await run_postgres(url, seed, runs) and ok
    print(
        f"\nlist and prefix p95 < {LIST_TARGET_MS:g} ms, substring p95 < "
        f"{SUBSTRING_TARGET_MS:g} ms, on {', '.join(backends)}: {'yes' if ok else 'NO'}"
    )
    return ok


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"])
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL") or None,
        help="a PostgreSQL server (default: TEST_DATABASE_URL); a database "
        f"{BENCH_DATABASE!r} is created there and dropped afterwards",
    )  # fmt: skip
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--other-guild", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    backend = args.backend or "both"
    if backend == "postgresql" and not args.database_url:
        parser.error("--backend postgresql needs --database-url (or TEST_DATABASE_URL)")
    backends = ["sqlite", "postgresql"] if backend == "both" else [backend]
    if "postgresql" in backends and not args.database_url:
        print("PostgreSQL SKIPPED: no --database-url and no TEST_DATABASE_URL (SQLite only)")
        backends = ["sqlite"]
    ok = asyncio.run(
        run(backends, args.database_url, args.count, args.other_guild, max(args.runs, 20))
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
