"""The database interface the repositories use, whichever engine is behind it.

A `Database` runs statements written with ``?`` placeholders and returns rows read as
``row["column"]`` or ``row[0]``. `storage.open_database` picks the engine from its
target: a ``postgresql://`` URL opens PostgreSQL (`storage.postgres`), anything else is
the path of a SQLite file (`storage.sqlite`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

Params = Iterable[Any]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# Connections each process keeps open to PostgreSQL unless told otherwise.
DEFAULT_POOL_SIZE = 10


def is_postgres_url(target: object) -> bool:
    """True when `target` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def is_shared(target: object) -> bool:
    """True when several bot processes may use this database at once (PostgreSQL), so
    that no single-process lock applies; a SQLite file has one bot at a time."""
    return is_postgres_url(target)


class Row(Protocol):
    """A result row of either backend (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class StorageError(Exception):
    """The database cannot be used; the message says why, in words a person can act on."""


class NotFoundError(StorageError, LookupError):
    """A row the caller named does not exist."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a write statement did."""

    rowcount: int
    lastrowid: int | None


class Session(ABC):
    """Runs statements inside one transaction (or on one connection)."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement and report the rows it changed."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""


class Database(ABC):
    """Where the bot keeps its data. Open one with `storage.open_database`; repositories use
    only these methods."""

    # "sqlite" or "postgresql": for the few queries that differ (e.g. substring search).
    dialect: str

    @property
    @abstractmethod
    def where(self) -> str:
        """The database in words (a file path, or a URL without its password)."""

    @abstractmethod
    async def close(self) -> None:
        """Wait for running statements, then close. Safe to call twice."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Session]:
        """Run a block in one write transaction: committed on exit, rolled back on error."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> Outcome:
        """Run one statement on its own (autocommit)."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Run one query and return its first row, if any."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return all its rows."""

    async def ping(self) -> None:
        """Answer a trivial query (a health check); raises when the database cannot."""
        await self.fetchone("SELECT 1")

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
