"""Persistence for the bot: one SQLite file holding jobs and characters.

This package is the only place with SQL. It never imports discord or ``bot``.
"""

from storage.characters import CharacterRepository
from storage.database import Database, NotFoundError, StorageError
from storage.jobs import JobRepository
from storage.models import (
    ACTIVE_STATES,
    FINAL_STATES,
    Character,
    Job,
    JobState,
    NewCharacter,
    NewJob,
    SourceKind,
)
from storage.state import StateRepository

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "Character",
    "CharacterRepository",
    "Database",
    "Job",
    "JobRepository",
    "JobState",
    "NewCharacter",
    "NewJob",
    "NotFoundError",
    "SourceKind",
    "StateRepository",
    "StorageError",
]
