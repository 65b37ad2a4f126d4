"""Copy a SQLite database into an empty PostgreSQL one: every table, then the counts.

The source is read in one read transaction (a consistent snapshot; writers are not
blocked), the target written in one transaction: a failure leaves it empty. Identity
sequences continue after the highest copied ids. SQLite's FTS5 tables are not copied:
PostgreSQL's twin for search, `character_keys`, is filled by its triggers as the
characters are copied (COPY fires them), and its trigram index follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from storage.database import StorageError
from storage.opener import open_database
from storage.postgres.database import PostgresDatabase
from storage.schema import SCHEMA_VERSION
from storage.sqlite.database import schema_version

# Rows sent to PostgreSQL at a time (avatars make rows large).
BATCH = 500

# Parents before children (foreign keys); counts last, replacing what triggers made.
ORDER = ("jobs", "characters", "job_characters", "character_counts")

# SQLite-only tables: the FTS5 index and its shadow tables.
SQLITE_ONLY_PREFIX = "characters_fts"


def _coerce(kind: str, value: Any) -> Any:
    """A SQLite value as the PostgreSQL column of type `kind` takes it."""
    if value is None:
        return None
    if kind in ("bigint", "integer", "smallint"):
        return int(value)
    if kind in ("double precision", "real", "numeric"):
        return float(value)
    if kind == "bytea":
        return bytes(value)
    return str(value).replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


def source_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables to copy, parents first."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        if not str(row[0]).startswith(SQLITE_ONLY_PREFIX)
    ]
    first = [name for name in ORDER[:-1] if name in names]
    last = [name for name in ORDER[-1:] if name in names]
    return first + [n for n in names if n not in ORDER] + last


async def copy_sqlite_to_postgres(path: Path, url: str, *, pool_size: int = 2) -> dict[str, int]:
    """Copy the bot's SQLite database at `path` into the PostgreSQL database at `url`.

    The source is brought to the current schema first; the target is created (migrated)
    and must hold no rows yet. Returns the rows copied per table, checked against the
    source's counts; raises StorageError, with the reason, when the copy cannot be made.
    """
    version = await asyncio.to_thread(schema_version, path)
    if version is None:
        raise StorageError(f"there is no database at {path}")
    if version < SCHEMA_VERSION:
        await (await open_database(path)).close()  # bring the source up to date first
    target = await open_database(url, pool_size=pool_size)
    try:
        assert isinstance(target, PostgresDatabase), "the target must be a postgresql:// URL"
        return await _copy(path, target)
    finally:
        await target.close()


async def _copy(path: Path, target: PostgresDatabase) -> dict[str, int]:
    source = await asyncio.to_thread(_read_only, path)
    with contextlib.closing(source):
        source.execute("BEGIN")  # one snapshot for every table and count
        tables = source_tables(source)
        copied: dict[str, int] = {}
        async with target.connection() as conn, conn.transaction():
            for table in tables:
                copied[table] = await _copy_table(source, conn, table)
            await _continue_identities(conn, tables)
            await _check_counts(source, conn, copied, target.where)
        source.execute("COMMIT")
    return copied


def _read_only(path: Path) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


async def _copy_table(source: sqlite3.Connection, conn: Any, table: str) -> int:
    kinds = {
        str(row["column_name"]): str(row["data_type"])
        for row in await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1",
            table,
        )
    }
    if not kinds:
        raise StorageError(f"the PostgreSQL schema has no table {table!r} to copy into")
    if table != "character_counts" and await conn.fetchval(f"SELECT count(*) FROM {table}"):  # noqa: S608
        raise StorageError(f"the PostgreSQL database already holds {table}: copy into an empty one")
    if table == "character_counts":  # the triggers counted the copied characters: replace
        await conn.execute("DELETE FROM character_counts")
    columns = [str(row[1]) for row in source.execute(f'PRAGMA table_info("{table}")')]
    missing = [column for column in columns if column not in kinds]
    if missing:
        raise StorageError(f"the PostgreSQL table {table} lacks the columns {missing}")
    cursor = source.execute(f'SELECT {", ".join(columns)} FROM "{table}"')  # noqa: S608
    count = 0
    while rows := await asyncio.to_thread(cursor.fetchmany, BATCH):
        records = [
            tuple(_coerce(kinds[c], v) for c, v in zip(columns, row, strict=True)) for row in rows
        ]
        await conn.copy_records_to_table(table, records=records, columns=columns)
        count += len(records)
    return count


async def _continue_identities(conn: Any, tables: list[str]) -> None:
    """New rows get ids after the copied ones."""
    for table in tables:
        sequence = await conn.fetchval(
            "SELECT pg_get_serial_sequence($1, 'id') FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'",
            table,
        )
        if sequence is not None:
            await conn.execute(
                f"SELECT setval($1, COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)",  # noqa: S608
                sequence,
            )


async def _check_counts(
    source: sqlite3.Connection, conn: Any, copied: dict[str, int], where: str
) -> None:
    for table, count in copied.items():
        expected = int(source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608
        found = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
        if not expected == count == found:
            raise StorageError(
                f"{table}: {expected} row(s) in the SQLite database, {found} in {where} "
                "after the copy; nothing was kept"
            )
