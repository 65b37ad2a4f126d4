"""The PostgreSQL backend: a pool of asyncpg connections behind the `Database` interface.

Repositories write ``?`` placeholders; they become ``$1, $2, ...`` here. Unlike SQLite,
several processes may share one PostgreSQL database: migrations take an advisory lock,
and the schema version lives in the ``bot_schema`` table of the current schema.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.database import Database, Outcome, Params, Row, Session, StorageError
from storage.postgres.migrations import PG_MIGRATIONS
from storage.schema import APPLICATION_ID, SCHEMA_VERSION, incompatibility

log = logging.getLogger(__name__)

# Where the schema version is kept (one row).
VERSION_TABLE = "bot_schema"

# asyncpg prepares each statement once per connection; after five runs PostgreSQL may
# keep one generic plan for it, chosen without the parameters. For a search that plan
# can be the wrong one for most texts (a scan of every row in id order for a trigram
# search that matches nothing): plan each run with its parameters instead.
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


@lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """``?`` placeholders as ``$n`` (those inside quoted strings or names are kept)."""
    out: list[str] = []
    quote = ""
    number = 0
    for char in sql:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "?":
            number += 1
            out.append(f"${number}")
            continue
        out.append(char)
    return "".join(out)


async def _end_transaction(conn: Any) -> None:
    """What a connection going back to the pool needs: a transaction left open ends.

    asyncpg's own reset (unlock, close cursors, unlisten, reset settings) costs a round
    trip after every statement; pooled connections hold none of that here (advisory
    locks are per transaction, LISTEN has a connection of its own, nothing is SET).
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _params(params: Params) -> list[Any]:
    """Parameters as asyncpg takes them. PostgreSQL text cannot hold NUL: it is stored
    as U+FFFD (the same in queries, so searches still agree with what was stored)."""
    return [p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params]


def _rowcount(status: str) -> int:
    """Rows changed, from a status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


def redact(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class PostgresSession(Session):
    """Runs statements on one connection (inside a transaction when one was started)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement and report the rows it changed."""
        status = await self._conn.execute(to_postgres(sql), *_params(params))
        return Outcome(_rowcount(str(status)), None)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""
        row: Row | None = await self._conn.fetchrow(to_postgres(sql), *_params(params))
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""
        return list(await self._conn.fetch(to_postgres(sql), *_params(params)))


class PostgresDatabase(Database):
    """A PostgreSQL database shared by any number of processes. Use `storage.open_database`."""

    dialect = "postgresql"

    def __init__(self, pool: Any, url: str) -> None:
        """Wrap an open pool (use `storage.open_database` instead)."""
        self._pool = pool
        self._url = url
        self._closed = False

    @property
    def where(self) -> str:
        """The URL, without its password."""
        return redact(self._url)

    @classmethod
    async def open_url(cls, url: str, *, pool_size: int) -> PostgresDatabase:
        """Connect with up to `pool_size` connections and migrate the schema."""
        if pool_size < 1:
            raise StorageError(f"DATABASE_POOL_SIZE must be at least 1 (got {pool_size})")
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                server_settings=SERVER_SETTINGS,
                reset=_end_transaction,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise StorageError(f"cannot open the database at {redact(url)}: {exc}") from exc
        db = cls(pool, url)
        try:
            await db._migrate()
        except BaseException:
            await pool.close()
            raise
        return db

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """One asyncpg connection of the pool, for work beyond the interface (a copy)."""
        self._ensure_open()
        async with self._pool.acquire() as conn:
            yield conn

    async def connect(self) -> Any:
        """A new connection of its own, outside the pool (to LISTEN on); the caller closes it."""
        self._ensure_open()
        try:
            return await asyncpg.connect(self._url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(f"cannot connect to the database at {self.where}: {exc}") from exc

    async def close(self) -> None:
        """Close every connection of the pool. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """One connection of the pool, in one transaction for the block."""
        self._ensure_open()
        async with self._pool.acquire() as conn, conn.transaction():
            yield PostgresSession(conn)

    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement on its own (autocommit)."""
        self._ensure_open()
        async with self._pool.acquire() as conn:
            return await PostgresSession(conn).execute(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""
        self._ensure_open()
        async with self._pool.acquire() as conn:
            return await PostgresSession(conn).fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""
        self._ensure_open()
        async with self._pool.acquire() as conn:
            return await PostgresSession(conn).fetchall(sql, params)

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageError(f"the database at {self.where} is closed")

    async def _migrate(self) -> None:
        """Bring the schema to `SCHEMA_VERSION`; one process at a time (advisory lock)."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", APPLICATION_ID)
                version = await self._check_version(conn)
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    await conn.execute(PG_MIGRATIONS[number - 1])
                    await conn.execute(f"UPDATE {VERSION_TABLE} SET version = $1", number)  # noqa: S608
                    log.info("database at %s migrated to schema version %d", self.where, number)
        except asyncpg.PostgresError as exc:
            raise StorageError(f"cannot migrate the database at {self.where}: {exc}") from exc

    async def _check_version(self, conn: Any) -> int:
        """The stored version (creating the version table in an empty schema)."""
        known = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE)
        if not known:
            tables = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
            if tables:
                raise StorageError(
                    f"the database at {self.where} holds tables that do not belong to this bot "
                    "(use an empty database or schema)"
                )
            await conn.execute(
                f"CREATE TABLE {VERSION_TABLE} (application_id BIGINT NOT NULL, "
                "version INTEGER NOT NULL)"
            )
            await conn.execute(
                f"INSERT INTO {VERSION_TABLE} VALUES ($1, 0)",  # noqa: S608 (constant SQL)
                APPLICATION_ID,
            )
            return 0
        row = await conn.fetchrow(f"SELECT application_id, version FROM {VERSION_TABLE}")  # noqa: S608
        app_id, version = (int(row[0]), int(row[1])) if row else (0, 0)
        if app_id != APPLICATION_ID:
            raise StorageError(f"the database at {self.where} does not belong to this bot")
        problem = incompatibility(app_id, version, True)
        if problem is not None:
            raise StorageError(f"database at {self.where} {problem}")
        return version


async def schema_version(url: str) -> int | None:
    """The schema version of the PostgreSQL database at `url` (read only), None if empty."""
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        raise StorageError(f"cannot open the database at {redact(url)}: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE):
            return None
        return int(await conn.fetchval(f"SELECT version FROM {VERSION_TABLE}"))  # noqa: S608
    finally:
        await conn.close()
