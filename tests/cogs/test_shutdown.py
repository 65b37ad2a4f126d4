"""Stopping the bot (SIGTERM runs `SoraBot.close`) while a create request is in flight."""

from __future__ import annotations

import logging

from bot.domain.records import JobState
from storage import JobRepository, open_database
from tests.cogs.test_character_create import create, is_card
from tests.cogs.test_fault_matrix import World, submits_sent, the_job, until
from tests.fakes import GUILD_ID


async def test_stop_during_a_create_request_keeps_the_task_id_and_the_card_follows(
    tmp_path, fake_discord, simulator, media_server, short_video, caplog
):
    caplog.set_level(logging.INFO)
    world = World(tmp_path, fake_discord, simulator, f"{media_server}/{short_video.name}", caplog)
    try:
        # Created at toapis (and still running there), its answer on its way.
        simulator.scenario.update(submit_delay=2.0, hang=True)
        first = await world.start()
        first.feed(create(url=world.url))
        await until(lambda: submits_sent(simulator) == 1, "the create request to reach toapis")
        await first.bot.close()  # what SIGTERM does

        [task_id] = list(simulator.tasks)
        database = await open_database(tmp_path / "bot.sqlite3")
        try:
            [job] = await JobRepository(database).list_for_guild(GUILD_ID)
        finally:
            await database.close()
        assert job.task_id == task_id and job.state is not JobState.UNKNOWN
        logged = [
            r for r in caplog.records if r.getMessage() == f"job {job.id}: toapis task {task_id}"
        ]
        assert logged and logged[0].levelno == logging.INFO

        simulator.scenario.update(submit_delay=0, hang=False)
        second = await world.start()  # the restart
        await second.wait_call("PATCH", r"/channels/\d+/messages/\d+", is_card)
        await second.settle()
        resumed = await the_job(second)
        assert resumed.state is JobState.COMPLETED and resumed.announced_at is not None
        assert submits_sent(simulator) == 1 and simulator.submits == 1  # paid once
    finally:
        await world.close()
