"""Persistence for the bot: jobs, characters and settings in SQLite or PostgreSQL.

This package is the only place with SQL. It maps rows to the core's records
(`bot.domain.records`) and imports nothing else from ``bot``, and never discord. The
repositories at the top talk to the engine-neutral `storage.database.Database`;
`storage.sqlite` and `storage.postgres` are the engines, each with its migrations, and
`open_database` picks one from the target.
"""

from storage.bindings import BindingRepository
from storage.characters import CharacterRepository
from storage.database import Database, NotFoundError, StorageError
from storage.jobs import JobRepository
from storage.opener import open_database
from storage.retention import RetentionRepository
from storage.state import StateRepository
from storage.usage import UsageRepository

__all__ = [
    "BindingRepository",
    "CharacterRepository",
    "Database",
    "JobRepository",
    "NotFoundError",
    "RetentionRepository",
    "StateRepository",
    "StorageError",
    "UsageRepository",
    "open_database",
]
