"""toapis asks the bot to wait (429/503 with Retry-After): the member is told until when."""

from __future__ import annotations

import logging
import math
import time

from bot.domain.records import JobState
from tests.cogs.test_character_create import EDIT_REPLY, create
from tests.cogs.test_fault_matrix import World, says, submits_sent, the_job
from tests.fakes.seen import shown_text


async def test_a_long_retry_after_at_submit_is_capped_and_shown_to_the_member(
    tmp_path, fake_discord, simulator, media_server, short_video, caplog
):
    caplog.set_level(logging.INFO)
    world = World(tmp_path, fake_discord, simulator, f"{media_server}/{short_video.name}", caplog)
    try:
        simulator.scenario.update(rate_limit_submits=1, retry_after=3600)  # an hour: capped
        sora = await world.start()
        before = time.time()
        sora.feed(create(url=world.url))
        waiting = await sora.wait_call("PATCH", EDIT_REPLY, says("retrying"))
        after = time.time()
        job = await the_job(sora)
        assert job.state is JobState.WAITING and job.retry_at is not None
        assert before + 900 <= job.retry_at <= after + 900  # 15 minutes, not an hour
        description = shown_text(waiting)
        assert f"<t:{math.ceil(job.retry_at)}:T>" in description
        assert submits_sent(simulator) == 1  # not sent again before then
        assert any("waiting 900s at most" in r.getMessage() for r in caplog.records)
    finally:
        await world.close()
