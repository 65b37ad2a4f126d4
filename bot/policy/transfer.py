"""A server's characters to files and back: JSON (everything, avatars in base64) and CSV
(the same without avatars, for spreadsheets). Importing the JSON is idempotent."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.domain.records import Character
from storage import CharacterRepository

FORMAT = "sora-character-bot/characters"
VERSION = 1
FIELDS = (
    "character_id",
    "task_id",
    "display_name",
    "username",
    "creator_id",
    "created_at",
    "announced_at",
    "avatar_mime",
)


class TransferError(Exception):
    """A file cannot be imported; the message says why."""


@dataclass(frozen=True, slots=True)
class Exported:
    """Where an export went and how many characters it holds."""

    json_path: Path
    csv_path: Path
    count: int


def _to_record(character: Character) -> dict[str, Any]:
    record = {name: getattr(character, name) for name in FIELDS}
    avatar = character.avatar
    record["avatar"] = base64.b64encode(avatar).decode("ascii") if avatar is not None else None
    return record


def _from_record(guild_id: int, record: dict[str, Any]) -> Character:
    try:
        avatar = record.get("avatar")
        creator = record.get("creator_id")
        announced = record.get("announced_at")
        return Character(
            id=0,
            guild_id=guild_id,
            character_id=str(record["character_id"]),
            task_id=str(record["task_id"]),
            job_id=None,
            display_name=str(record["display_name"]),
            username=str(record["username"]),
            creator_id=None if creator is None else int(creator),
            created_at=float(record["created_at"]),
            announced_at=None if announced is None else float(announced),
            avatar_mime=record.get("avatar_mime"),
            avatar=None if avatar is None else base64.b64decode(avatar, validate=True),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TransferError(f"a character in the file is incomplete or malformed: {exc}") from exc


async def export_guild(repository: CharacterRepository, guild_id: int, folder: Path) -> Exported:
    """Write `<guild>-characters.json` and `.csv` into `folder` (created if needed)."""
    characters = await repository.all_for_guild(guild_id)
    return await asyncio.to_thread(write_export, guild_id, characters, folder)


def write_export(guild_id: int, characters: list[Character], folder: Path) -> Exported:
    """Write the two files of an export."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"{guild_id}-characters.json"
    csv_path = folder / f"{guild_id}-characters.csv"
    document = {
        "format": FORMAT,
        "version": VERSION,
        "guild_id": guild_id,
        "characters": [_to_record(c) for c in characters],
    }
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", "utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for character in characters:
            writer.writerow({name: getattr(character, name) for name in FIELDS})
    return Exported(json_path, csv_path, len(characters))


def read_export(path: Path, guild_id: int | None = None) -> list[Character]:
    """The characters of an exported JSON file (for `guild_id`, else the file's own)."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise TransferError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferError(f"{path} is not a characters export of this bot")
    if document.get("version") != VERSION:
        raise TransferError(f"{path} has export version {document.get('version')}, not {VERSION}")
    target = int(document["guild_id"]) if guild_id is None else guild_id
    records = document.get("characters")
    if not isinstance(records, list):
        raise TransferError(f"{path} has no list of characters")
    return [_from_record(target, record) for record in records]
