"""`python -m bot doctor`'s line about where likenesses are kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli.doctor import SHARED_STORE_FIX, likeness_check
from bot.runtime.config import Settings
from bot.runtime.startup_checks import Status
from tests.s3_server import SECRET_KEY, moto_s3, new_bucket, use_test_credentials

POSTGRES = "postgresql://bot:secret@db.example:5432/bot"


def test_local_disk_is_fine_for_one_process_on_sqlite(tmp_path: Path) -> None:
    check = likeness_check(Settings(data_dir=tmp_path, _env_file=None))
    assert check.line() == (
        f"ok    likeness store: {tmp_path / 'likeness'} on this machine's disk (made at the "
        "first likeness)"
    )
    assert not (tmp_path / "likeness").exists()  # the doctor makes nothing


def test_local_disk_under_a_shared_postgresql_database_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "likeness").mkdir()
    settings = Settings(data_dir=tmp_path, database_url=POSTGRES, _env_file=None)
    check = likeness_check(settings)
    assert check.status is Status.WARN
    assert check.line() == (
        f"warn  likeness store: {tmp_path / 'likeness'} on this machine's disk, but the "
        f"database is PostgreSQL -> {SHARED_STORE_FIX}"
    )
    shared = "several processes on several machines need a shared store: set LIKENESS_STORE=s3://"
    assert check.fix.startswith(shared)


async def test_an_s3_store_under_postgresql_is_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_test_credentials(monkeypatch)
    with moto_s3() as endpoint:
        bucket = new_bucket(endpoint)
        settings = Settings(
            data_dir=tmp_path,
            database_url=POSTGRES,
            likeness_store=f"s3://{bucket}",
            likeness_s3_endpoint_url=endpoint,
            _env_file=None,
        )
        check = await asyncio.to_thread(likeness_check, settings)
    assert check.status is Status.OK, check.line()
    assert check.what == f"s3://{bucket} at {endpoint.removeprefix('http://')} answers"
    assert SECRET_KEY not in check.line()
