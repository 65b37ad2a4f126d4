"""Two `python -m bot` processes on one database: the second refuses to start."""

from __future__ import annotations

import asyncio
import signal

from tests.cogs.test_smoke_process import bot_env, launch, until


async def test_second_bot_on_the_same_database_exits_with_one_line(
    tmp_path, fake_discord, simulator
):
    env = bot_env(tmp_path, fake_discord, simulator)
    gateway = fake_discord.gateway
    first = await launch(tmp_path, env, "first.log")
    try:
        await until(lambda: gateway.identify_count == 1, "IDENTIFY")
        second = await launch(tmp_path, env, "second.log")
        code = await asyncio.wait_for(second.wait(), timeout=30)
        assert code == 1
        lines = (tmp_path / "second.log").read_text().strip().splitlines()
        database = tmp_path / "bot.sqlite3"
        assert len(lines) == 1, lines
        assert lines[0].endswith(f"another bot process (pid {first.pid}) is using {database}")
        assert gateway.identify_count == 1  # the second one never connected
        assert fake_discord.sync_count == 1

        first.send_signal(signal.SIGKILL)  # no clean-up: the kernel releases the lock
        await first.wait()
        third = await launch(tmp_path, env, "third.log")
        try:
            await until(lambda: gateway.identify_count == 2, "IDENTIFY of the next bot")
        finally:
            third.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(third.wait(), timeout=10) == 0
    finally:
        if first.returncode is None:
            first.send_signal(signal.SIGKILL)
            await first.wait()
