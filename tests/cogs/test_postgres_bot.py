"""The real bot on PostgreSQL (DATABASE_URL=postgresql://...): nothing outside storage/
knows; a character is made, stored, listed and survives a restart, two bots at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cogs.conftest import bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create, is_card
from tests.fakes import GUILD_ID, FakeDiscord
from tests.storage.backends import postgres_schema, skip_without_postgres


async def test_character_made_on_postgres_survives_a_restart(
    tmp_path: Path, fake_discord: FakeDiscord, simulator: Any, media_server: str, short_video: Path
) -> None:
    skip_without_postgres()
    async with postgres_schema() as url:
        settings = bot_settings(
            tmp_path, fake_discord, simulator, database_url=url, database_pool_size=3
        )
        first = await start_bot(settings, fake_discord)
        try:
            first.feed(create(url=f"{media_server}/{short_video.name}"))
            await first.wait_call("PATCH", EDIT_REPLY, is_card)
            [made] = await first.core.characters.list_for_guild(GUILD_ID)
            assert made.avatar is None  # listed without bytes; get() has them
            stored = await first.core.characters.get(GUILD_ID, made.character_id)
            assert stored is not None and stored.avatar
            # A second process on the same database: no single-process lock here.
            second = await start_bot(settings, fake_discord)
            try:
                assert await second.core.characters.count_for_guild(GUILD_ID) == 1
            finally:
                await second.bot.close()
        finally:
            await first.bot.close()
        again = await start_bot(settings, fake_discord)
        try:
            found = await again.core.characters.search(GUILD_ID, made.display_name[:3])
            assert [c.character_id for c in found] == [made.character_id]
            [job] = await again.core.jobs.list_for_guild(GUILD_ID)
            assert job.state.value == "completed" and job.announced_at is not None
        finally:
            await again.bot.close()
    assert not (tmp_path / "bot.sqlite3").exists()  # nothing went to SQLite
