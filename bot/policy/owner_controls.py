"""The bot owner's controls over the one toapis account: pause, a global daily cap, blocks.

Stored in the bot's own state (one JSON value), read through a small cache; consulted by
`SpendingLimits` before every job, at every entry point.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

from bot.domain.changes import OWNER, ChangePublisher
from storage import StateRepository

log = logging.getLogger(__name__)

STATE_KEY = "owner_controls"


@dataclass(frozen=True, slots=True)
class OwnerState:
    """What the owner decided. Defaults: running, no cap, nobody blocked."""

    paused: str | None = None  # the message members read while new jobs are paused
    daily_cap: int | None = None  # jobs per UTC day across every server
    blocked_users: frozenset[int] = frozenset()
    blocked_guilds: frozenset[int] = frozenset()

    def to_json(self) -> str:
        """The stored form."""
        data: dict[str, Any] = dataclasses.asdict(self)
        data["blocked_users"] = sorted(self.blocked_users)
        data["blocked_guilds"] = sorted(self.blocked_guilds)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> OwnerState:
        """The stored form read back; anything unreadable counts as the defaults."""
        try:
            data = json.loads(text) if text else {}
            return cls(
                paused=str(data["paused"]) if data.get("paused") is not None else None,
                daily_cap=int(data["daily_cap"]) if data.get("daily_cap") is not None else None,
                blocked_users=frozenset(int(v) for v in data.get("blocked_users", [])),
                blocked_guilds=frozenset(int(v) for v in data.get("blocked_guilds", [])),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("stored owner controls are unreadable; using the defaults")
            return cls()


class OwnerControls:
    """Reads and changes the owner's controls (cached; writes go to storage first, and
    with `notices` are told to the other processes, which forget their copy)."""

    def __init__(self, state: StateRepository, notices: ChangePublisher | None = None) -> None:
        self._state = state
        self._notices = notices
        self._cached: OwnerState | None = None
        self._lock = asyncio.Lock()
        self._generation = 0  # counts forgets: a read that saw one is not cached

    async def get(self) -> OwnerState:
        """The current controls."""
        cached = self._cached
        if cached is None:
            generation = self._generation
            cached = OwnerState.from_json(await self._state.get(STATE_KEY))
            if generation == self._generation:
                self._cached = cached
        return cached

    async def change(self, **fields: Any) -> OwnerState:
        """Change some controls and return all of them."""
        async with self._lock:
            updated = dataclasses.replace(await self.get(), **fields)
            generation = self._generation
            await self._state.set(STATE_KEY, updated.to_json())
            self._cached = updated if generation == self._generation else None
        if self._notices is not None:
            try:
                await self._notices.publish(OWNER)
            except Exception:
                log.warning("other processes were not told of the owner's change", exc_info=True)
        return updated

    def forget(self) -> None:
        """Drop the cached controls (another process changed them)."""
        self._generation += 1
        self._cached = None

    async def block(self, *, user: int | None = None, guild: int | None = None) -> OwnerState:
        """Block a member (everywhere) or a server."""
        current = await self.get()
        return await self.change(
            blocked_users=current.blocked_users | ({user} if user else set()),
            blocked_guilds=current.blocked_guilds | ({guild} if guild else set()),
        )

    async def unblock(self, *, user: int | None = None, guild: int | None = None) -> OwnerState:
        """Lift a block."""
        current = await self.get()
        return await self.change(
            blocked_users=current.blocked_users - {user},
            blocked_guilds=current.blocked_guilds - {guild},
        )
