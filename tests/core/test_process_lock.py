"""The database lock of `python -m bot run`: one bot per database, released by any exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.process_lock import LockBusy, ProcessLock, holder, lock_path

HOLD = """
import sys, time
from pathlib import Path
from bot.runtime.process_lock import ProcessLock
ProcessLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(120)
"""


def test_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path):
    database = tmp_path / "data" / "bot.sqlite3"
    assert holder(database) is None
    with ProcessLock.acquire(database):
        assert lock_path(database).exists()
        assert holder(database) == os.getpid()
        with pytest.raises(LockBusy) as busy:
            ProcessLock.acquire(database)
        assert str(busy.value) == f"another bot process (pid {os.getpid()}) is using {database}"
    assert holder(database) is None
    ProcessLock.acquire(database).release()  # free again


def test_a_sigkilled_holder_releases_the_lock(tmp_path: Path):
    database = tmp_path / "bot.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"locked\n"
        assert holder(database) == process.pid
        with pytest.raises(LockBusy, match=f"pid {process.pid}"):
            ProcessLock.acquire(database)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert holder(database) is None
    with ProcessLock.acquire(database):
        assert holder(database) == os.getpid()
