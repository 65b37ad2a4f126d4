"""`python -m bot admin ...`: look after the bot's data without Discord, even while the bot
runs (no lock is taken; SQLite's WAL lets both read and write)."""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.domain.records import Job
from bot.policy.transfer import TransferError, export_guild, read_export
from bot.policy.usage import format_report, usage_report
from bot.runtime.config import Settings
from bot.runtime.process_lock import holder
from storage import (
    CharacterRepository,
    Database,
    JobRepository,
    StateRepository,
    StorageError,
    UsageRepository,
    open_database,
)
from storage.copy_to_postgres import copy_sqlite_to_postgres
from storage.database import is_postgres_url, is_shared
from storage.postgres.database import redact
from storage.sqlite.backup import backup_database
from storage.state import COMMANDS_HASH_KEY

DESCRIPTION = (
    "Look after the bot's data without Discord: jobs in flight, the usage report, a "
    "server's characters exported and imported, an online backup, a forced re-sync of "
    "slash commands, a move to PostgreSQL. Safe while the bot runs, except migrate-to "
    "(stop the bot first). Reads DATABASE_URL."
)


def add_admin_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `admin` and its subcommands."""
    admin = commands.add_parser("admin", help="look after the data (safe while the bot runs)")
    admin.description = DESCRIPTION
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)
    jobs = actions.add_parser("jobs", help="jobs preparing, waiting or running at toapis")
    jobs.add_argument("--guild", type=int, help="only this server")
    usage = actions.add_parser(
        "usage", help="jobs toapis accepted per server and member: today, 7 and 30 days"
    )
    usage.add_argument("--guild", type=int, help="only this server")
    export = actions.add_parser(
        "export", help="write a server's characters to <guild>-characters.json and .csv"
    )
    export.add_argument("--guild", type=int, required=True, help="server id")
    export.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    imported = actions.add_parser(
        "import", help="store the characters of an exported JSON file (existing ones kept)"
    )
    imported.add_argument("file", type=Path, help="a <guild>-characters.json export")
    imported.add_argument("--guild", type=int, help="store under this server (default: the file's)")
    backup = actions.add_parser(
        "backup", help="copy the database while the bot runs, then check the copy"
    )
    backup.add_argument("target", type=Path, help="the new file to write the copy to")
    actions.add_parser("resync", help="forget the synced command hash: the next start re-syncs")
    migrate = actions.add_parser(
        "migrate-to",
        help="copy the SQLite database (DATABASE_URL) into an empty PostgreSQL database",
    )
    migrate.add_argument("url", help="postgresql://user:password@host:5432/database")


def running_note(database: Path | str) -> str:
    """ "bot running (pid N)" or "bot not running" (a shared database cannot tell)."""
    if not isinstance(database, Path):
        return "shared database"
    pid = holder(database)
    return "bot not running" if pid is None else f"bot running (pid {pid or 'unknown'})"


async def run_admin(settings: Settings, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one admin action; the exit code."""
    path = settings.database_path
    target = settings.database_target
    try:
        if args.action == "migrate-to":
            return await _migrate_to(settings, args.url, out)
        if args.action == "backup" and is_shared(target):
            raise StorageError("backup copies a SQLite file; back up PostgreSQL with pg_dump")
        if args.action == "backup":
            answer = await asyncio.to_thread(backup_database, path, args.target)
            print(f"{running_note(path)}; backed up {path} to {args.target}", file=out)
            print(f"integrity check of the copy: {answer}", file=out)
            return 0
        if args.action == "import":  # a bad file is refused before the database is opened
            args.characters = await asyncio.to_thread(read_export, args.file, args.guild)
        elif not is_shared(target) and not path.is_file():
            raise StorageError(f"there is no database at {path} (set DATABASE_URL)")
        database = await open_database(target, pool_size=settings.database_pool_size)
        try:
            return await _run(database, target, args, out)
        finally:
            await database.close()
    except TransferError as exc:
        print(f"error: {exc}", file=err)
        return 2


async def _migrate_to(settings: Settings, url: str, out: TextIO) -> int:
    """Copy the SQLite database into PostgreSQL, table by table, and report the counts."""
    path = settings.database_path
    if not is_postgres_url(url):
        raise StorageError(f"{url!r} is not a postgresql:// URL")
    if is_shared(settings.database_target):
        raise StorageError("DATABASE_URL already names PostgreSQL: set it to the SQLite file")
    if holder(path) is not None:
        raise StorageError(f"{running_note(path)}: stop it first, or its new rows are lost")
    copied = await copy_sqlite_to_postgres(path, url, pool_size=settings.database_pool_size)
    for table, count in copied.items():
        print(f"{table}: {count} row(s)", file=out)
    print(
        f"copied {path} to {redact(url)}; counts checked. "
        f"Now set DATABASE_URL={redact(url)} and start the bot.",
        file=out,
    )
    return 0


async def _run(database: Database, path: Path | str, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "jobs":
        jobs = await JobRepository(database).in_flight(args.guild)
        print(f"{running_note(path)}; {len(jobs)} job(s) in flight", file=out)
        for job in jobs:
            print(format_job(job), file=out)
    elif args.action == "usage":
        report = await usage_report(UsageRepository(database), args.guild)
        print(format_report(report), file=out)
    elif args.action == "export":
        done = await export_guild(CharacterRepository(database), args.guild, args.out)
        print(
            f"exported {done.count} character(s) of server {args.guild} to "
            f"{done.json_path} and {done.csv_path}",
            file=out,
        )
    elif args.action == "import":
        added = await CharacterRepository(database).restore(args.characters)
        kept = len(args.characters) - added
        print(f"imported {added} character(s); {kept} were already there", file=out)
    elif args.action == "resync":
        await StateRepository(database).delete(COMMANDS_HASH_KEY)
        note = running_note(path)
        print(
            f"{note}; cleared the stored command hash: the next start re-syncs slash commands",
            file=out,
        )
    return 0


def format_job(job: Job, now: float | None = None) -> str:
    """One line per job in flight."""
    age = (time.time() if now is None else now) - job.created_at
    since = datetime.fromtimestamp(job.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    member = job.requester_id if job.requester_id is not None else "-"
    return (
        f"#{job.id}  server {job.guild_id}  member {member}  {job.state.value}  "
        f"{job.progress}%  task {job.task_id or '-'}  {job.model}  since {since} "
        f"({age / 60:.0f} min)"
    )
