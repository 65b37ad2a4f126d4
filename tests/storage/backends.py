"""Real databases for storage tests: a SQLite file, or a fresh PostgreSQL schema.

PostgreSQL runs when ``TEST_DATABASE_URL`` names a server (``.ci/run`` sets it); each
test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str | None:
    """The server the PostgreSQL tests use, or None when it was not given."""
    return os.environ.get("TEST_DATABASE_URL") or None


def skip_without_postgres() -> None:
    if postgres_url() is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL backend not tested")


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A URL whose connections work in a new, empty schema (dropped on exit)."""
    url = postgres_url()
    assert url is not None
    schema = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(url)
    try:
        # Extensions belong to the database: keep pg_trgm in public, visible to all.
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    joiner = "&" if "?" in url else "?"
    try:
        # Commits need not wait for the disk here (the server is not what the tests kill):
        # under a busy disk, serialised reservations waited seconds each for their fsync.
        path = quote(f"{schema},public")
        yield f"{url}{joiner}search_path={path}&synchronous_commit=off"
    finally:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()


@asynccontextmanager
async def database_target(backend: str, tmp_path: Path) -> AsyncIterator[Path | str]:
    """Where `open_database` finds a new, empty database of `backend`."""
    if backend == "sqlite":
        yield tmp_path / "bot.db"
        return
    skip_without_postgres()
    async with postgres_schema() as url:
        yield url
