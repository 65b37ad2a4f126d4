"""An online copy of the database (SQLite's backup API) and a check of the copy."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from storage.database import StorageError


def backup_database(source: Path, target: Path) -> str:
    """Copy the database at `source` to `target` while others may write to it.

    The copy is one consistent snapshot (one read transaction in WAL mode: writers are
    not blocked), made a single self-contained file (no WAL), checked with
    ``PRAGMA integrity_check`` and only then moved to `target`. Returns the check's
    answer ("ok"); raises StorageError when the copy cannot be made or is not clean.
    """
    if not source.is_file():
        raise StorageError(f"there is no database at {source}")
    if target.exists():
        raise StorageError(f"{target} already exists: choose a new file for the backup")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(source)) as src:
            src.execute("PRAGMA busy_timeout=5000")
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                src.backup(copy)  # all pages in one step: one snapshot
                copy.execute("PRAGMA journal_mode=DELETE")
                rows = copy.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"cannot back up {source} to {target}: {exc}") from exc
    answer = "; ".join(str(row[0]) for row in rows)
    if answer != "ok":
        partial.unlink(missing_ok=True)
        raise StorageError(f"the copy of {source} is not clean: {answer}")
    partial.replace(target)
    return answer
