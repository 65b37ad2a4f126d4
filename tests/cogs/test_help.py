"""`/help` through the fake Discord: the operator's HELP_URL is linked when set, and no
link at all when it is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.fakes import FakeDiscord, payloads

CALLBACK = r"/interactions/\d+/[^/]+/callback"


async def help_fields(running: Running) -> dict[str, str]:
    running.fake.clear()
    running.feed(payloads.slash_command("help"))
    answer = await running.wait_call("POST", CALLBACK)
    assert isinstance(answer.json, dict)
    fields = answer.json["data"]["embeds"][0]["fields"]
    return {f["name"]: f["value"] for f in fields}


async def test_help_links_nowhere_without_help_url(sora: Running) -> None:
    fields = await help_fields(sora)
    assert "More" not in fields
    assert "http" not in str(fields) and "README" not in str(fields)


async def test_help_links_the_operators_help_url(
    tmp_path: Path, fake_discord: FakeDiscord, simulator: Any
) -> None:
    url = "https://wiki.example.org/sora-bot"
    settings = bot_settings(tmp_path, fake_discord, simulator, help_url=url)
    running = await start_bot(settings, fake_discord)
    try:
        fields = await help_fields(running)
    finally:
        await running.bot.close()
    assert fields["More"] == f"[Read more]({url})"
