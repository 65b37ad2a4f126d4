"""One value per bot, set by a cog as it loads: how its buttons, forms and the other cogs
reach it, typed, without looking it up by name (tests run several bots in one process)."""

from __future__ import annotations

from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

import discord

T = TypeVar("T")


class PerBot(Generic[T]):
    """A slot holding one `T` for each bot (the client an interaction came to)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._values: WeakKeyDictionary[discord.Client, T] = WeakKeyDictionary()

    def set(self, client: discord.Client, value: T) -> None:
        """`client`'s value from now on (a cog calls this in `cog_load`)."""
        self._values[client] = value

    def clear(self, client: discord.Client) -> None:
        """Forget `client`'s value (a cog calls this in `cog_unload`)."""
        self._values.pop(client, None)

    def get(self, client: discord.Client) -> T:
        """`client`'s value; it must be loaded."""
        value = self._values.get(client)
        assert value is not None, f"{self.what} is not loaded"
        return value
