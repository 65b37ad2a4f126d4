"""Commands that only work in a server are offered in servers only (Discord's interaction
contexts, as the bot registers them with the fake Discord); /help is offered everywhere."""

from __future__ import annotations

from tests.cogs.test_readme_commands import registered

GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2


async def test_server_commands_are_offered_in_servers_only(tmp_path, fake_discord, simulator):
    commands = await registered(tmp_path, fake_discord, simulator)
    by_name = {command["name"]: command for command in commands}
    for name in ("character", "video", "settings", "Create Sora character"):
        assert by_name[name].get("contexts") == [GUILD], (name, by_name[name].get("contexts"))
    assert by_name["help"].get("contexts") in (None, [GUILD, BOT_DM, PRIVATE_CHANNEL])
