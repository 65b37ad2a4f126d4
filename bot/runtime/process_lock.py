"""One bot process per database: an OS lock (`flock`) on `<database>.lock`.

The Discord bot takes the lock for as long as it runs; the kernel drops it when the
process ends in any way (SIGKILL included), so a crash never leaves a stale lock behind.
The holder's pid is written in the file for messages. The CLI commands do not take it;
they may call `holder()` to say "bot running (pid N)".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path


class LockBusy(Exception):
    """Another process holds the lock; the message is one line for the operator."""

    def __init__(self, database: Path, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(f"another bot process ({who}) is using {database}")
        self.database = database
        self.pid = pid


def lock_path(database: Path) -> Path:
    """The lock file that goes with `database` (`bot.sqlite3` -> `bot.sqlite3.lock`)."""
    return database.with_name(database.name + ".lock")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class ProcessLock:
    """The exclusive lock of one database; `release()` (or process exit) lets it go."""

    def __init__(self, database: Path, fd: int) -> None:
        self.database = database
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path, *, attempts: int = 5) -> ProcessLock:
        """Take the lock or raise `LockBusy` (with the holder's pid) at once.

        A few quick retries absorb a `holder()` probe that briefly holds a shared lock.
        """
        database.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(database), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            for attempt in range(attempts):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == attempts - 1:
                        raise LockBusy(database, _read_pid(fd)) from None
                    time.sleep(0.02)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        return cls(database, fd)

    def release(self) -> None:
        """Let the lock go (the file stays: removing it would race with a new holder)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(database: Path) -> int | None:
    """The pid of the bot process using `database`, or None when no bot runs on it.

    Never blocks and never keeps the lock; a holder of unknown pid is reported as 0.
    """
    try:
        fd = os.open(lock_path(database), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or 0
        return None  # nobody holds it (closing the descriptor below drops our probe)
    finally:
        os.close(fd)
