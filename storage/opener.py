"""Opening the database a target names, with the engine it needs.

The interface (`storage.database`) knows no engine and each engine knows only the
interface; this module alone knows both.
"""

from __future__ import annotations

from pathlib import Path

from storage.database import DEFAULT_POOL_SIZE, Database, is_postgres_url
from storage.postgres.database import PostgresDatabase
from storage.sqlite.database import SqliteDatabase


async def open_database(target: Path | str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
    """Open (creating if needed) and migrate the database at `target`.

    A ``postgresql://`` URL opens PostgreSQL with up to `pool_size` connections;
    anything else is the path of a SQLite file. Raises :class:`StorageError` when the
    database cannot be used, with the reason.
    """
    if is_postgres_url(target):
        return await PostgresDatabase.open_url(str(target), pool_size=pool_size)
    return await SqliteDatabase.open_path(Path(target))
