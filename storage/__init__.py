"""Persistence for the bot: one SQLite file holding jobs and characters.

This package is the only place with SQL. It maps rows to the core's records
(`bot.domain.records`) and imports nothing else from ``bot``, and never discord.
"""

from storage.characters import CharacterRepository
from storage.database import Database, NotFoundError, StorageError
from storage.jobs import JobRepository
from storage.lifecycle import LifecycleRepository
from storage.state import StateRepository
from storage.usage import UsageRepository

__all__ = [
    "CharacterRepository",
    "Database",
    "JobRepository",
    "LifecycleRepository",
    "NotFoundError",
    "StateRepository",
    "StorageError",
    "UsageRepository",
]
