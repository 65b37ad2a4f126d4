"""`python -m bot admin resync`: the next start of the bot syncs its slash commands again."""

from __future__ import annotations

from tests.cogs.conftest import bot_settings, start_bot
from tests.core.test_admin_cli import admin


async def test_resync_makes_the_next_start_sync_again(tmp_path, fake_discord, simulator):
    settings = bot_settings(tmp_path, fake_discord, simulator)
    for _ in range(2):  # the second start finds the commands unchanged: no sync
        running = await start_bot(settings, fake_discord)
        await running.bot.close()
    assert fake_discord.sync_count == 1

    code, out, err = await admin(settings.database_path, "resync")
    assert code == 0, err
    assert out.strip() == (
        "bot not running; cleared the stored command hash: the next start re-syncs slash commands"
    )
    running = await start_bot(settings, fake_discord)
    await running.bot.close()
    assert fake_discord.sync_count == 2
    commands = fake_discord.commands[None]
    assert "character" in {c["name"] for c in commands}
