"""Typed per-guild settings with their defaults in one place, cached over storage.

After Red-DiscordBot's Config: a setting is declared once, as a field of
:class:`GuildSettings` with its default; guilds store only what they changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import typing
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """The settings of one guild. Every default lives here and nowhere else."""

    auto_react: bool = False
    default_model: str = "sora-2"


class SettingsStore(Protocol):
    """What the service needs from storage (``storage.GuildSettingsRepository``)."""

    async def get_all(self, guild_id: int) -> dict[str, Any]: ...

    async def set_many(self, guild_id: int, values: typing.Mapping[str, Any]) -> None: ...


# Field name -> declared type, resolved once (annotations are strings here).
FIELD_TYPES: dict[str, type] = {
    name: hint
    for name, hint in typing.get_type_hints(GuildSettings).items()
    if name in {field.name for field in dataclasses.fields(GuildSettings)}
}


def _fits(value: Any, expected: type) -> bool:
    """True if ``value`` may be stored in a field of type ``expected``."""
    if expected is bool or isinstance(value, bool):
        return type(value) is expected  # True is an int to Python, not to us
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def check_fields(fields: dict[str, Any]) -> None:
    """Raise ValueError for an unknown setting, TypeError for a value of the wrong type."""
    for name, value in fields.items():
        expected = FIELD_TYPES.get(name)
        if expected is None:
            known = ", ".join(sorted(FIELD_TYPES))
            raise ValueError(f"unknown setting {name!r} (known: {known})")
        if not _fits(value, expected):
            raise TypeError(
                f"setting {name!r} takes a {expected.__name__}, not {type(value).__name__}"
            )


def from_stored(guild_id: int, stored: dict[str, Any]) -> GuildSettings:
    """Defaults overlaid with what a guild stored; unknown or mistyped values are skipped."""
    usable: dict[str, Any] = {}
    for name, value in stored.items():
        try:
            check_fields({name: value})
        except (TypeError, ValueError) as exc:
            log.warning("guild %d: stored setting ignored: %s", guild_id, exc)
            continue
        usable[name] = value
    return GuildSettings(**usable)


class SettingsService:
    """Reads and changes guild settings; each guild is loaded once, then served from memory.

    Writes go to storage first and then to the cache, one at a time per guild, so the
    cache never holds a value that storage does not.
    """

    def __init__(self, store: SettingsStore) -> None:
        """Keep settings in ``store`` (a ``GuildSettingsRepository``)."""
        self._store = store
        self._cache: dict[int, GuildSettings] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks.setdefault(guild_id, asyncio.Lock())

    async def get(self, guild_id: int) -> GuildSettings:
        """The settings of a guild (defaults for anything it never changed)."""
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        async with self._lock(guild_id):
            return await self._load(guild_id)

    async def set(self, guild_id: int, **fields: Any) -> GuildSettings:
        """Change some settings of a guild and return all of them.

        Raises ValueError for an unknown setting and TypeError for a mistyped value,
        before anything is written.
        """
        check_fields(fields)
        async with self._lock(guild_id):
            current = await self._load(guild_id)
            if fields:
                await self._store.set_many(guild_id, fields)
            updated = dataclasses.replace(current, **fields)
            self._cache[guild_id] = updated
            return updated

    def forget(self, guild_id: int) -> None:
        """Drop a guild from the cache (e.g. when the bot leaves it)."""
        self._cache.pop(guild_id, None)

    async def _load(self, guild_id: int) -> GuildSettings:
        """Cached settings, or read them from storage; the guild's lock must be held."""
        cached = self._cache.get(guild_id)
        if cached is None:
            cached = from_stored(guild_id, await self._store.get_all(guild_id))
            self._cache[guild_id] = cached
        return cached
