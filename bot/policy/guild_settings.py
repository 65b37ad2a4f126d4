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

from bot.domain.changes import GUILD_SETTINGS, ChangePublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """The settings of one guild. Every default lives here and nowhere else."""

    auto_react: bool = False
    default_model: str = "sora-2"
    channels: tuple[int, ...] = ()  # where the bot takes jobs; empty: everywhere
    creator_role: int | None = None  # who may create; None: everyone
    jobs_at_once: int = 2  # per member: preparing, waiting in line and running
    jobs_per_day: int = 10  # per member, accepted by toapis, per UTC day
    server_jobs_per_day: int = 100  # the whole server, per UTC day
    video_enabled: bool = True  # `/video create` and "Use in a video"
    video_models: tuple[str, ...] = ()  # models allowed for videos; empty: all
    videos_per_day: int = 3  # per member, accepted by toapis, per UTC day
    engines: tuple[str, ...] = ()  # engines new characters are bound to; empty: all

    def allows_channel(self, channel_id: int | None, parent_id: int | None = None) -> bool:
        """Whether jobs may be started in this channel (a thread counts as its parent)."""
        if not self.channels:
            return True
        return channel_id in self.channels or (parent_id is not None and parent_id in self.channels)


# Bounds for the number settings (inclusive).
LIMIT_BOUNDS: dict[str, tuple[int, int]] = {
    "jobs_at_once": (1, 20),
    "jobs_per_day": (1, 1000),
    "server_jobs_per_day": (1, 100_000),
    "videos_per_day": (1, 100),
}


class SettingsStore(Protocol):
    """What the service needs from storage (``storage.GuildSettingsRepository``)."""

    async def get_all(self, guild_id: int) -> dict[str, Any]: ...

    async def set_many(self, guild_id: int, values: typing.Mapping[str, Any]) -> None: ...


# Field name -> declared type, resolved once (annotations are strings here).
FIELD_TYPES: dict[str, Any] = {
    name: hint
    for name, hint in typing.get_type_hints(GuildSettings).items()
    if name in {field.name for field in dataclasses.fields(GuildSettings)}
}


def _fits(value: Any, expected: Any) -> bool:
    """True if ``value`` may be stored in a field of type ``expected``."""
    args = typing.get_args(expected)
    origin = typing.get_origin(expected)
    if origin is tuple:  # tuple[int, ...]: stored as a JSON list
        return isinstance(value, list | tuple) and all(_fits(v, args[0]) for v in value)
    if args:  # X | None
        return any(_fits(value, arg) for arg in args)
    if expected is type(None):
        return value is None
    if expected is bool or isinstance(value, bool):
        return type(value) is expected  # True is an int to Python, not to us
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _name_of(expected: Any) -> str:
    return getattr(expected, "__name__", None) or str(expected)


def check_fields(fields: dict[str, Any]) -> None:
    """Raise ValueError for an unknown setting, TypeError for a value of the wrong type."""
    for name, value in fields.items():
        expected = FIELD_TYPES.get(name)
        if expected is None:
            known = ", ".join(sorted(FIELD_TYPES))
            raise ValueError(f"unknown setting {name!r} (known: {known})")
        if not _fits(value, expected):
            raise TypeError(
                f"setting {name!r} takes a {_name_of(expected)}, not {type(value).__name__}"
            )
        bounds = LIMIT_BOUNDS.get(name)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"setting {name!r} must be between {bounds[0]} and {bounds[1]}")


def from_stored(guild_id: int, stored: dict[str, Any]) -> GuildSettings:
    """Defaults overlaid with what a guild stored; unknown or mistyped values are skipped."""
    usable: dict[str, Any] = {}
    for name, value in stored.items():
        try:
            check_fields({name: value})
        except (TypeError, ValueError) as exc:
            log.warning("guild %d: stored setting ignored: %s", guild_id, exc)
            continue
        usable[name] = tuple(value) if isinstance(value, list) else value
    return GuildSettings(**usable)


class SettingsService:
    """Reads and changes guild settings; each guild is loaded once, then served from memory.

    Writes go to storage first and then to the cache, one at a time per guild, so the
    cache never holds a value that storage does not. With `notices`, each write is told
    to the other processes, which forget that guild; a value read while some entry was
    forgotten is returned but not cached (it may predate the change).
    """

    def __init__(self, store: SettingsStore, notices: ChangePublisher | None = None) -> None:
        """Keep settings in ``store`` (a ``GuildSettingsRepository``)."""
        self._store = store
        self._notices = notices
        self._cache: dict[int, GuildSettings] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._generation = 0  # counts forgets: a read that saw one is not cached

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
            generation = self._generation
            if fields:
                await self._store.set_many(guild_id, fields)
            values: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()
            }
            updated = dataclasses.replace(current, **values)
            if generation == self._generation:
                self._cache[guild_id] = updated
            else:  # another process changed it meanwhile: read it again next time
                self._cache.pop(guild_id, None)
        if fields and self._notices is not None:
            try:
                await self._notices.publish(GUILD_SETTINGS, str(guild_id))
            except Exception:
                log.warning(
                    "guild %d: other processes were not told of the change", guild_id, exc_info=True
                )
        return updated

    def forget(self, guild_id: int) -> None:
        """Drop a guild from the cache (the bot left it, or another process changed it)."""
        self._generation += 1
        self._cache.pop(guild_id, None)

    def forget_all(self) -> None:
        """Drop every guild from the cache (changes may have been missed)."""
        self._generation += 1
        self._cache.clear()

    async def _load(self, guild_id: int) -> GuildSettings:
        """Cached settings, or read them from storage; the guild's lock must be held."""
        cached = self._cache.get(guild_id)
        if cached is None:
            generation = self._generation
            cached = from_stored(guild_id, await self._store.get_all(guild_id))
            if generation == self._generation:
                self._cache[guild_id] = cached
        return cached
