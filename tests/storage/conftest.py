"""Every storage test that takes `db` (or `db_target`) runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import Database, open_database
from tests.storage.backends import BACKENDS, database_target


@pytest.fixture(params=BACKENDS)
async def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Path | str]:
    """A new, empty database of each backend, as `open_database` takes it."""
    async with database_target(str(request.param), tmp_path) as target:
        yield target


@pytest.fixture
async def db(db_target: Path | str) -> AsyncIterator[Database]:
    database = await open_database(db_target)
    yield database
    await database.close()
