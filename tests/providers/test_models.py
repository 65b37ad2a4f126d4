"""A model the service no longer offers: said plainly, logged once, remembered 10 minutes."""

from __future__ import annotations

import logging

import pytest

from bot.providers.base import (
    CharacterRequest,
    InvalidRequestError,
    ModelUnavailableError,
    RateLimitedError,
)
from bot.providers.models import ModelAvailability, says_model_is_gone
from bot.providers.toapis import ToapisClient

SUBMIT = "/v1/videos/generations"


def submits(simulator) -> int:
    return sum(1 for r in simulator.requests if r[1] == SUBMIT)


async def test_a_retired_model_is_said_plainly_and_not_asked_again_for_ten_minutes(
    simulator, media_server, short_video, caplog
):
    caplog.set_level(logging.WARNING, logger="bot.providers.models")
    simulator.scenario.update(retired_models=["sora-2-pro"])
    client = ToapisClient(simulator.base_url, simulator.scenario.api_key, max_attempts=1)
    now = [1000.0]
    client.models._clock = lambda: now[0]
    url = f"{media_server}/{short_video.name}"
    request = CharacterRequest(model="sora-2-pro", start=1, end=3, url=url)
    try:
        with pytest.raises(ModelUnavailableError) as first:
            await client.create_character(request)
        assert first.value.user_message.startswith(
            "sora-2-pro is not available from the service right now."
        )
        assert submits(simulator) == 1
        # The next member is told at once: nothing is sent.
        with pytest.raises(ModelUnavailableError):
            await client.create_character(request)
        assert submits(simulator) == 1
        # Another model still works.
        task = await client.create_character(request.model_copy(update={"model": "sora-2"}))
        assert task.id and submits(simulator) == 2
        # After ten minutes the service is asked again.
        now[0] += 601
        simulator.scenario.update(retired_models=[])
        assert (await client.create_character(request)).id
        assert submits(simulator) == 3
    finally:
        await client.aclose()
    owner_lines = [r for r in caplog.records if "sora-2-pro is not available" in r.getMessage()]
    assert len(owner_lines) == 1


@pytest.mark.parametrize(
    ("status", "detail", "gone"),
    [
        (400, "Unsupported model: sora-2-pro", True),
        (404, "The model `sora-2` does not exist", True),
        (503, "sora-2-vip is temporarily paused", True),
        (400, "model_not_found", True),
        (400, "Invalid request: timestamps range must be between 1-3 seconds", False),
        (503, "Rate limiter unavailable, please retry later", False),
    ],
)
def test_which_refusals_mean_the_model_is_gone(status: int, detail: str, gone: bool) -> None:
    error_type = RateLimitedError if status == 503 else InvalidRequestError
    assert says_model_is_gone(error_type(detail, status=status)) is gone


def test_availability_forgets_after_its_ttl() -> None:
    now = [0.0]
    models = ModelAvailability(ttl=600, clock=lambda: now[0])
    models.refuse("sora-2-pro", "gone")
    assert models.refused() == ["sora-2-pro"]
    now[0] = 599
    assert models.unavailable("sora-2-pro") is not None
    now[0] = 601
    assert models.unavailable("sora-2-pro") is None and models.refused() == []
