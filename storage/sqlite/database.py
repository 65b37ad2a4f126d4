"""The SQLite backend: one file, opened safely, migrated, with serialised transactions."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from storage.database import Database, Outcome, Params, Row, Session, StorageError
from storage.schema import APPLICATION_ID, SCHEMA_VERSION, incompatibility
from storage.sqlite.migrations import MIGRATIONS, split_statements

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"


class SqliteSession(Session):
    """Runs statements on the connection. Whoever holds the database lock owns it."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement and report the rows it changed and the last inserted id."""
        async with self._conn.execute(sql, params) as cursor:
            return Outcome(cursor.rowcount, cursor.lastrowid)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


class SqliteDatabase(Database):
    """The bot's SQLite file. Use `storage.open_database`; every statement takes the lock."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        """Wrap an already configured connection (use `storage.open_database` instead)."""
        self._conn = conn
        self._path = path
        self._session = SqliteSession(conn)
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        """Where the database file lives."""
        return self._path

    @property
    def where(self) -> str:
        """The path of the file."""
        return str(self._path)

    @classmethod
    async def open_path(cls, path: Path) -> SqliteDatabase:
        """Open (creating if needed) and migrate the database at ``path``.

        Raises :class:`StorageError` when the file cannot be opened or created, is not
        a SQLite database, belongs to another program, or was written by a newer bot.
        """
        await asyncio.to_thread(_check_path, path)
        try:
            conn = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the database at {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        try:
            await db._configure()
            await db._migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        """Wait for running statements, then close the connection. Safe to call twice."""
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """Hold the lock and run the block in one write transaction.

        ``BEGIN IMMEDIATE`` on entry, ``COMMIT`` on normal exit, ``ROLLBACK`` when the
        block raises. Use the yielded session (not the database) inside the block.
        """
        async with self._lock:
            self._ensure_open()
            await self._session.execute("BEGIN IMMEDIATE")
            try:
                yield self._session
                await self._session.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._session.execute("ROLLBACK")
                raise

    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement on its own (autocommit)."""
        async with self._lock:
            self._ensure_open()
            return await self._session.execute(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""
        async with self._lock:
            self._ensure_open()
            return await self._session.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""
        async with self._lock:
            self._ensure_open()
            return await self._session.fetchall(sql, params)

    def _ensure_open(self) -> None:
        if self._closed:
            raise StorageError(f"the database at {self._path} is closed")

    async def _configure(self) -> None:
        try:
            row = await self._session.fetchone("PRAGMA journal_mode=WAL")
            await self._session.execute("PRAGMA busy_timeout=5000")
            await self._session.execute("PRAGMA foreign_keys=ON")
            await self._session.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        mode = str(row[0]).lower() if row is not None else "?"
        if mode != "wal":
            log.warning("database at %s uses journal mode %r instead of WAL", self._path, mode)

    async def _header(self, session: Session) -> tuple[int, int, bool]:
        app = await session.fetchone("PRAGMA application_id")
        version = await session.fetchone("PRAGMA user_version")
        schema = await session.fetchone("SELECT count(*) FROM sqlite_master")
        assert app is not None and version is not None and schema is not None
        return int(app[0]), int(version[0]), int(schema[0]) > 0

    async def _check_header(self, session: Session) -> int:
        app_id, version, has_schema = await self._header(session)
        problem = incompatibility(app_id, version, has_schema)
        if problem is not None:
            raise StorageError(f"database at {self._path} {problem}")
        return version

    async def _migrate(self) -> None:
        try:
            if await self._check_header(self._session) == SCHEMA_VERSION:
                return  # up to date: do not even take the write lock
            async with self.transaction() as tx:
                # Check again under the write lock: another process may have migrated.
                version = await self._check_header(tx)
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in split_statements(MIGRATIONS[number - 1]):
                        await tx.execute(statement)
                    await tx.execute(f"PRAGMA user_version = {number:d}")
                    log.info("database at %s migrated to schema version %d", self._path, number)
                await tx.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc

    def _open_error(self, exc: sqlite3.Error) -> StorageError:
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return StorageError(f"the file at {self._path} is not a SQLite database")
        return StorageError(f"cannot open the database at {self._path}: {exc}")


def check_database_path(path: Path) -> None:
    """Raise `StorageError` with a clear message if the database at `path` is unusable.

    Creates the folder if needed; opens nothing (the bot checks this before its lock).
    """
    _check_path(path)


def _check_path(path: Path, *, create: bool = True) -> None:
    """Fail early, with a clear message, on the usual reasons a file cannot be used
    (`create=False`: a missing folder is only checked for being creatable, not made)."""

    def fail(reason: str) -> StorageError:
        return StorageError(f"cannot open the database at {path}: {reason}")

    parent = path.parent
    if not create and not parent.exists():
        ancestor = next(p for p in parent.absolute().parents if p.exists())
        if not ancestor.is_dir():
            raise fail(f"part of the folder path {parent} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise fail(f"cannot create the folder {parent} ({ancestor} is not writable)")
        return
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise fail(f"{exc.filename or parent} exists and is not a folder") from exc
    except NotADirectoryError as exc:
        raise fail(f"part of the folder path {parent} is a file, not a folder") from exc
    except OSError as exc:
        raise fail(f"cannot create the folder {parent} ({exc.strerror or exc})") from exc
    if not parent.is_dir():
        raise fail(f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise fail(f"the folder {parent} is not writable")
    if path.is_dir():
        raise fail("it is a folder, not a file")
    if not path.exists():
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from exc
    if header and header != SQLITE_HEADER:
        raise StorageError(f"the file at {path} is not a SQLite database")


def schema_version(path: Path) -> int | None:
    """The schema version of the database at `path` (read only), None when there is none.

    Raises `StorageError` when the file cannot be read, is not a SQLite database, belongs
    to another program or was written by a newer bot. Changes nothing, not even a missing
    folder.
    """
    _check_path(path, create=False)
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise StorageError(f"the file at {path} is not a SQLite database") from exc
        raise StorageError(f"cannot open the database at {path}: {exc}") from exc
    problem = incompatibility(app_id, version, tables > 0)
    if problem is not None:
        raise StorageError(f"database at {path} {problem}")
    return version
