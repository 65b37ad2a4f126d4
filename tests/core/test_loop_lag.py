"""The event-loop lag gauge: a blocked loop shows up in `sora_event_loop_lag_seconds`."""

from __future__ import annotations

import asyncio
import time

from bot import metrics
from bot.http.loop_lag import LoopLagSampler


def lag_counts() -> tuple[float, float]:
    """(samples, samples later than 100 ms) so far."""
    name = "sora_event_loop_lag_seconds"
    total = metrics.REGISTRY.get_sample_value(f"{name}_count") or 0.0
    quick = metrics.REGISTRY.get_sample_value(f"{name}_bucket", {"le": "0.1"}) or 0.0
    return total, total - quick


async def test_a_blocked_loop_is_seen_as_lag_and_a_free_one_is_not() -> None:
    sampler = LoopLagSampler(interval=0.02)
    before_total, before_late = lag_counts()
    sampler.start()
    try:
        await asyncio.sleep(0.2)  # free: samples, none late
        total, late = lag_counts()
        assert total - before_total >= 3 and late == before_late
        time.sleep(0.25)  # noqa: ASYNC251 - the point: a callback holding the loop
        await asyncio.sleep(0.1)
        total, late = lag_counts()
        assert late - before_late == 1
    finally:
        await sampler.stop()
    stopped_at = lag_counts()
    await asyncio.sleep(0.1)
    assert lag_counts() == stopped_at  # stopped: no more samples
