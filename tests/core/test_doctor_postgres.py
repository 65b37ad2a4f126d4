"""`python -m bot doctor` on a PostgreSQL DATABASE_URL: it answers, with its schema version."""

from __future__ import annotations

import asyncio

from bot.cli.doctor import data_checks
from bot.runtime.config import Settings
from bot.runtime.startup_checks import Status
from storage import open_database
from storage.schema import SCHEMA_VERSION
from tests.storage.backends import postgres_schema, skip_without_postgres


async def test_doctor_reports_the_postgres_schema() -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        settings = Settings(database_url=url)
        empty = (await asyncio.to_thread(data_checks, settings))[-1]
        assert empty.status is Status.OK and "is empty" in empty.what
        await (await open_database(url)).close()
        ready = (await asyncio.to_thread(data_checks, settings))[-1]
        assert ready.status is Status.OK
        assert f"schema version {SCHEMA_VERSION} (up to date)" in ready.what


async def test_doctor_says_when_postgres_does_not_answer() -> None:
    settings = Settings(database_url="postgresql://bot:secret@127.0.0.1:1/bot")
    check = (await asyncio.to_thread(data_checks, settings))[-1]
    assert check.status is Status.FAIL
    assert "postgresql://bot:***@127.0.0.1:1/bot" in check.what and "secret" not in check.what
