"""Test media made once per run, shared by the parallel test workers (pytest-xdist).

Each worker is its own process with its own session fixtures, so without this every
worker would encode the same videos again. A file is made under an exclusive lock beside
it and marked done; a worker that finds it done takes it as it is.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's media folder: shared by the workers under xdist, the session's otherwise."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "media"  # the controller's basetemp
        root.mkdir(exist_ok=True)
        return root
    return tmp_path_factory.mktemp("media")


def made_once(path: Path, make: Callable[[Path], Path]) -> Path:
    """`make(path)` unless another worker already made it in this run."""
    done = path.with_name(f".{path.name}.done")
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            make(path)
            done.touch()
    return path
