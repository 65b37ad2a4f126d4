"""The typed, cached guild settings service over the real SQLite repository."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.policy.guild_settings import GuildSettings, SettingsService
from storage import Database, open_database
from storage.guild_settings import GuildSettingsRepository


class CountingStore:
    """The real repository, counting reads and writes."""

    def __init__(self, repo: GuildSettingsRepository) -> None:
        self.repo = repo
        self.reads = 0
        self.writes = 0

    async def get_all(self, guild_id: int) -> dict[str, Any]:
        self.reads += 1
        return await self.repo.get_all(guild_id)

    async def set_many(self, guild_id: int, values: Mapping[str, Any]) -> None:
        self.writes += 1
        await self.repo.set_many(guild_id, values)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest.fixture
def store(db: Database) -> CountingStore:
    return CountingStore(GuildSettingsRepository(db))


async def test_defaults(store: CountingStore) -> None:
    settings = await SettingsService(store).get(1)
    assert settings == GuildSettings()
    assert settings.auto_react is False
    assert settings.default_model == "sora-2"


async def test_set_then_get(store: CountingStore) -> None:
    service = SettingsService(store)
    updated = await service.set(1, auto_react=True)
    assert updated == GuildSettings(auto_react=True)
    assert await service.get(1) == updated
    assert await service.get(2) == GuildSettings()
    assert await store.repo.get_all(1) == {"auto_react": True}  # only what changed
    both = await service.set(1, auto_react=False, default_model="sora-2-pro")
    assert both == GuildSettings(auto_react=False, default_model="sora-2-pro")


async def test_reads_are_cached(store: CountingStore) -> None:
    service = SettingsService(store)
    await asyncio.gather(*(service.get(1) for _ in range(10)))
    await service.get(1)
    assert store.reads == 1
    await service.set(1, auto_react=True)
    assert (await service.get(1)).auto_react is True
    assert store.reads == 1 and store.writes == 1
    service.forget(1)
    assert (await service.get(1)).auto_react is True
    assert store.reads == 2


async def test_unknown_or_mistyped_fields_are_rejected(store: CountingStore) -> None:
    service = SettingsService(store)
    with pytest.raises(ValueError, match="unknown setting 'auto_reply'"):
        await service.set(1, auto_reply=True)
    with pytest.raises(TypeError, match="'auto_react' takes a bool, not int"):
        await service.set(1, auto_react=1)
    with pytest.raises(TypeError, match="'default_model' takes a str"):
        await service.set(1, default_model=None)
    with pytest.raises(ValueError):
        await service.set(1, default_model="sora-2-pro", typo=True)  # nothing half-written
    assert store.writes == 0
    assert await service.get(1) == GuildSettings()


async def test_bad_stored_values_fall_back_to_defaults(store: CountingStore) -> None:
    await store.repo.set(1, "auto_react", "yes")
    await store.repo.set(1, "retired_setting", 5)
    await store.repo.set(1, "default_model", "sora-2-pro")
    settings = await SettingsService(store).get(1)
    assert settings == GuildSettings(default_model="sora-2-pro")


async def test_concurrent_sets_keep_every_change(store: CountingStore) -> None:
    service = SettingsService(store)
    await asyncio.gather(
        service.set(1, auto_react=True), service.set(1, default_model="sora-2-pro")
    )
    expected = GuildSettings(auto_react=True, default_model="sora-2-pro")
    assert await service.get(1) == expected
    assert await SettingsService(store).get(1) == expected


async def test_survives_reopening_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with await open_database(path) as db:
        await SettingsService(GuildSettingsRepository(db)).set(7, auto_react=True)
    async with await open_database(path) as db:
        settings = await SettingsService(GuildSettingsRepository(db)).get(7)
    assert settings == GuildSettings(auto_react=True)
