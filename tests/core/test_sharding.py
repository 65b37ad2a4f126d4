"""SHARD_COUNT and SHARD_IDS: discord.py's AutoShardedClient with explicit shard ids,
commands synced only by the process running shard 0."""

from __future__ import annotations

from unittest.mock import AsyncMock

import discord
import pytest

from bot.runtime.app import ShardedSoraBot, SoraBot, make_bot
from bot.runtime.config import Settings, parse_shard_ids
from bot.runtime.settings_check import inspect_settings


def settings(**fields: object) -> Settings:
    return Settings(_env_file=None, **fields)  # type: ignore[arg-type]


def test_shard_ids_are_ranges_and_numbers() -> None:
    assert parse_shard_ids("0-3") == [0, 1, 2, 3]
    assert parse_shard_ids(" 5, 0-1 ,1 ") == [0, 1, 5]
    assert parse_shard_ids("") == []
    for bad in ("a", "3-1", "1-", "-2", "1.5"):
        with pytest.raises(ValueError):
            parse_shard_ids(bad)


def test_shard_settings_are_checked_together() -> None:
    ok = settings(shard_count=8, shard_ids="4-7")
    assert ok.sharded and ok.shard_id_list == [4, 5, 6, 7] and not ok.syncs_commands
    every = settings(shard_count=2)
    assert every.shard_id_list == [0, 1] and every.syncs_commands
    alone = settings()
    assert not alone.sharded and alone.shard_id_list is None and alone.syncs_commands

    _, problems = inspect_settings(_env_file=None, shard_count=2, shard_ids="0-3")
    assert [p.setting for p in problems] == ["SHARD_IDS"]
    assert "SHARD_COUNT=2" in problems[0].what
    _, problems = inspect_settings(_env_file=None, shard_ids="1")
    assert [p.setting for p in problems] == ["SHARD_IDS"]


def test_the_bot_is_auto_sharded_with_explicit_ids() -> None:
    bot = make_bot(settings(shard_count=4, shard_ids="1,3"))
    assert isinstance(bot, ShardedSoraBot)
    assert isinstance(bot, discord.AutoShardedClient)
    assert bot.shard_count == 4 and bot.shard_ids == [1, 3]
    plain = make_bot(settings())
    assert type(plain) is SoraBot and not isinstance(plain, discord.AutoShardedClient)


@pytest.mark.parametrize(("ids", "syncs"), [("0-1", True), ("2-3", False), ("", True)])
async def test_only_the_process_with_shard_zero_syncs_commands(ids: str, syncs: bool) -> None:
    bot = make_bot(settings(shard_count=4, shard_ids=ids))
    sync = AsyncMock(return_value=True)
    bot.sync_commands = sync  # type: ignore[method-assign]
    assert await bot.maybe_sync_commands() is syncs
    assert sync.await_count == (1 if syncs else 0)
