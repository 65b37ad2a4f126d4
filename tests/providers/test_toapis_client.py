"""The toapis client against the simulator over real sockets: every documented answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.media.assets import fetch_asset
from bot.media.errors import MediaError
from bot.providers.base import (
    AuthenticationError,
    CharacterRequest,
    ContentPolicyError,
    InvalidRequestError,
    PaymentRequiredError,
    RateLimitedError,
    ServiceUnavailableError,
    SubmissionUncertainError,
    Task,
    TaskNotFoundError,
    TaskStatus,
    UploadRejectedError,
)
from bot.providers.toapis import ToapisClient


class SleepRecorder:
    """Records the delays the client asks for without really waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def client(simulator, sleeps):
    client = ToapisClient(
        simulator.base_url,
        simulator.scenario.api_key,
        timeout=2.0,
        max_attempts=4,
        backoff_base=0.01,
        sleep=sleeps,
    )
    yield client
    await client.aclose()


@pytest.fixture
def video_url(media_server, short_video) -> str:
    return f"{media_server}/{short_video.name}"


def request(url: str | None = None, *, start: float = 1, end: float = 3, **kw) -> CharacterRequest:
    return CharacterRequest(start=start, end=end, url=url, **kw)


async def wait_final(client: ToapisClient, task_id: str):
    for _ in range(200):
        task = await client.get_task(task_id)
        if task.status.is_final:
            return task
        await asyncio.sleep(0.02)
    raise AssertionError("task never finished")


async def test_create_then_follow_to_a_character(client, simulator, video_url):
    task = await client.create_character(request(video_url))
    assert task.status is TaskStatus.QUEUED and task.id.startswith("task_")
    body = simulator.requests[-1][2]
    assert body == {"model": "sora-2", "timestamps": "1,3", "url": video_url}
    final = await wait_final(client, task.id)
    assert final.status is TaskStatus.COMPLETED and final.progress == 100
    [character] = final.characters
    assert character.id.startswith("ch_") and character.username
    url = character.profile_picture_url or ""
    picture = await fetch_asset(url, allow_private=True, max_bytes=1 << 20)
    assert picture.startswith(b"\xff\xd8")


async def test_decimal_timestamps_are_sent_without_trailing_zeros(client, simulator, video_url):
    await client.create_character(request(video_url, start=1.5, end=3.0, model="sora-2-pro"))
    assert simulator.requests[-1][2]["timestamps"] == "1.5,3"


async def test_from_task_reuses_an_earlier_task(client, simulator, video_url):
    first = await wait_final(client, (await client.create_character(request(video_url))).id)
    task = await client.create_character(request(from_task=first.id))
    assert simulator.requests[-1][2] == {
        "model": "sora-2",
        "timestamps": "1,3",
        "from_task": first.id,
    }
    assert (await wait_final(client, task.id)).status is TaskStatus.COMPLETED


async def test_failed_task_carries_the_reason(client, simulator, video_url):
    simulator.scenario.update(
        fail_with=("generation_failed", "Generation failed: Content violates the content policy")
    )
    final = await wait_final(client, (await client.create_character(request(video_url))).id)
    assert final.status is TaskStatus.FAILED
    assert final.error is not None and final.error.code == "generation_failed"
    assert "content policy" in final.error.message


async def test_span_over_three_seconds_is_refused_with_the_service_reason(client, video_url):
    with pytest.raises(InvalidRequestError) as info:
        await client.create_character(request(video_url, start=0, end=3.5))
    assert "between 1-3 seconds" in info.value.user_message
    assert "Invalid request" not in info.value.user_message


async def test_wrong_key_is_an_authentication_error(simulator, sleeps, video_url):
    bad = ToapisClient(simulator.base_url, "wrong-key", sleep=sleeps)
    try:
        with pytest.raises(AuthenticationError) as info:
            await bad.create_character(request(video_url))
        assert "wrong-key" not in str(info.value) and "owner" in info.value.user_message
        assert sleeps.delays == []  # no retry storm
    finally:
        await bad.aclose()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            402,
            {
                "error": {
                    "code": 402,
                    "message": "Insufficient account balance, please top up",
                    "type": "payment_required",
                }
            },
            PaymentRequiredError,
        ),
        (422, {"error": {"code": 422, "message": "Content policy violation"}}, ContentPolicyError),
    ],
)
async def test_documented_submit_refusals(
    client, simulator, sleeps, video_url, status, body, error
):
    simulator.scenario.update(submit_status=[status, body])
    with pytest.raises(error):
        await client.create_character(request(video_url))
    assert sleeps.delays == []


async def test_429_honours_retry_after_then_succeeds(client, simulator, sleeps, video_url):
    simulator.scenario.update(rate_limit_submits=2, retry_after=0.5)
    task = await client.create_character(request(video_url))
    assert task.status is TaskStatus.QUEUED
    assert len(sleeps.delays) == 2 and all(d >= 0.5 for d in sleeps.delays)
    assert simulator.submits == 1


async def test_429_gives_up_after_bounded_attempts(client, simulator, sleeps, video_url):
    simulator.scenario.update(rate_limit_submits=10, retry_after=0.1)
    with pytest.raises(RateLimitedError) as info:
        await client.create_character(request(video_url))
    assert info.value.retry_after == pytest.approx(0.1)
    assert len(sleeps.delays) == 3  # 4 attempts
    assert sleeps.delays == sorted(sleeps.delays) or max(sleeps.delays) <= 60


async def test_backoff_grows_exponentially_and_is_capped(simulator, sleeps, video_url):
    client = ToapisClient(
        simulator.base_url, "sim-key", max_attempts=6, backoff_base=1, max_backoff=4, sleep=sleeps
    )
    simulator.scenario.update(unavailable=5, retry_after=0)
    try:
        await client.create_character(request(video_url))
    finally:
        await client.aclose()
    base = [min(4, 2**i) for i in range(5)]
    assert [
        round(d / b, 2) >= 1 and d <= b * 1.25 for d, b in zip(sleeps.delays, base, strict=True)
    ] == [True] * 5


async def test_server_errors_are_retried(client, simulator, sleeps, video_url):
    task = await client.create_character(request(video_url))
    simulator.scenario.update(server_errors=2)
    assert (await client.get_task(task.id)).id == task.id
    assert len(sleeps.delays) == 2


async def test_persistent_server_errors_become_service_unavailable(client, simulator):
    simulator.scenario.update(server_errors=10)
    with pytest.raises(ServiceUnavailableError):
        await client.get_task("task_X")


async def test_malformed_json_is_retried_for_queries(client, simulator, video_url):
    task = await client.create_character(request(video_url))
    simulator.scenario.update(malformed=1)
    assert (await client.get_task(task.id)).id == task.id


async def test_malformed_answer_to_create_is_uncertain_not_resent(client, simulator, video_url):
    simulator.scenario.update(malformed=1)
    with pytest.raises(SubmissionUncertainError):
        await client.create_character(request(video_url))
    assert sum(1 for m, p, _ in simulator.requests if m == "POST") == 1


async def test_timeout_on_create_is_uncertain_and_on_query_transient(simulator, sleeps, video_url):
    client = ToapisClient(simulator.base_url, "sim-key", timeout=0.2, max_attempts=2, sleep=sleeps)
    try:
        task = await client.create_character(request(video_url))
        simulator.scenario.update(latency=1.0)
        with pytest.raises(SubmissionUncertainError):
            await client.create_character(request(video_url))
        with pytest.raises(ServiceUnavailableError):
            await client.get_task(task.id)
        assert len(sleeps.delays) == 1  # the query was retried once, the create never
    finally:
        await client.aclose()


async def test_unknown_task_is_not_found(client):
    with pytest.raises(TaskNotFoundError):
        await client.get_task("task_DOESNOTEXIST")


async def test_status_falls_back_to_the_general_page(client, simulator, video_url):
    task = await client.create_character(request(video_url))
    simulator.scenario.update(characters_tasks_404=True)
    assert (await client.get_task(task.id)).id == task.id
    paths = [p for _, p, _ in simulator.requests[-2:]]
    assert paths == [f"/v1/characters_tasks/{task.id}", f"/v1/videos/generations/{task.id}"]


async def test_task_id_cannot_escape_the_path(client, simulator):
    with pytest.raises(TaskNotFoundError):
        await client.get_task("../uploads/videos")
    assert all("/uploads" not in p for _, p, _ in simulator.requests)


async def test_upload_returns_a_public_url_that_serves_the_file(client, short_video):
    uploaded = await client.upload_video(short_video)
    assert uploaded.url.endswith(".mp4") and uploaded.size == short_video.stat().st_size
    data = await fetch_asset(uploaded.url, allow_private=True, max_bytes=50 << 20)
    assert data == short_video.read_bytes()


async def test_upload_too_large_is_refused_with_the_reason(client, simulator, short_video):
    simulator.scenario.update(max_upload_bytes=1000)
    with pytest.raises(UploadRejectedError) as info:
        await client.upload_video(short_video)
    assert "too large" in info.value.user_message


async def test_download_is_capped(client, simulator, short_video):
    uploaded = await client.upload_video(short_video)
    with pytest.raises(MediaError) as info:
        await fetch_asset(uploaded.url, allow_private=True, max_bytes=100)
    assert info.value.kind == "too_big"


async def test_server_error_on_create_is_uncertain_and_never_resent(
    client, simulator, sleeps, video_url
):
    simulator.scenario.update(server_errors=1)
    with pytest.raises(SubmissionUncertainError):
        await client.create_character(request(video_url))
    assert sum(1 for r in simulator.requests if r[1] == "/v1/videos/generations") == 1
    assert sleeps.delays == []


def test_unconfirmed_status_words_and_wrapped_objects_are_tolerated():
    assert Task.model_validate({"id": "t", "status": "pending"}).status is TaskStatus.QUEUED
    assert Task.model_validate({"id": "t", "status": "SUCCEEDED"}).status is TaskStatus.COMPLETED
    assert Task.model_validate({"id": "t", "status": "brand-new"}).status is TaskStatus.IN_PROGRESS
    wrapped = ToapisClient._task({"data": {"id": "task_1", "status": "queued"}})
    assert wrapped.id == "task_1"


def status_queries(simulator) -> list[str]:
    return [p for m, p, _ in simulator.requests if m == "GET"]


async def test_the_status_page_that_answered_is_remembered_per_task(client, simulator, video_url):
    task = await client.create_character(request(video_url))
    simulator.scenario.update(characters_tasks_404=True)
    for _ in range(3):
        assert (await client.get_task(task.id)).id == task.id
    general = f"/v1/videos/generations/{task.id}"
    assert status_queries(simulator) == [
        f"/v1/characters_tasks/{task.id}",
        general,
        general,
        general,
    ]


async def test_a_long_retry_after_is_not_cut_short_by_an_early_resend(client, simulator, video_url):
    """Retry-After beyond the in-call backoff: raise at once, the caller waits it out."""
    simulator.scenario.update(rate_limit_submits=1, retry_after=120)
    with pytest.raises(RateLimitedError) as info:
        await client.create_character(request(video_url))
    assert info.value.retry_after == pytest.approx(120)
    assert sleeps_taken(client) == [] and len(simulator.requests) == 1  # no resend after 60 s


async def test_retry_after_beyond_15_minutes_is_capped_and_logged(
    client, simulator, video_url, caplog
):
    simulator.scenario.update(rate_limit_submits=1, retry_after=7200)
    with pytest.raises(RateLimitedError) as info:
        await client.create_character(request(video_url))
    assert info.value.retry_after == pytest.approx(900)
    assert any("7200" in r.getMessage() and "900" in r.getMessage() for r in caplog.records)
    assert len(simulator.requests) == 1


def sleeps_taken(client: ToapisClient) -> list[float]:
    recorder = client._sleep
    assert isinstance(recorder, SleepRecorder)
    return recorder.delays


async def test_requests_go_through_the_proxy_the_environment_names(simulator, monkeypatch):
    # toapis.invalid cannot be resolved: a status query answers only through the proxy,
    # here the simulator itself (it reads the path of an absolute-form request target).
    monkeypatch.setenv("HTTP_PROXY", simulator.base_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = ToapisClient("http://toapis.invalid", simulator.scenario.api_key, max_attempts=1)
    try:
        with pytest.raises(TaskNotFoundError):  # the simulator answered: unknown task
            await proxied.get_task("task_DOESNOTEXIST")
    finally:
        await proxied.aclose()

    monkeypatch.setenv("NO_PROXY", "toapis.invalid")  # now it may not go through the proxy
    direct = ToapisClient("http://toapis.invalid", simulator.scenario.api_key, max_attempts=1)
    try:
        with pytest.raises(ServiceUnavailableError):
            await direct.get_task("task_DOESNOTEXIST")
    finally:
        await direct.aclose()
