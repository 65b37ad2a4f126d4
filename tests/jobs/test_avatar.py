"""Avatars are fetched with the checks of member links: never from a private address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from aiohttp import web

from bot.jobs.tracker import JobTracker
from bot.media import reader
from bot.media.assets import checked_download
from bot.net import address_guard as net_guard
from bot.net import egress_proxy
from bot.providers.toapis import ToapisClient
from bot.simulator.tasks import new_character
from storage import CharacterRepository, JobRepository, open_database
from tests.jobs.test_tracker import FAST, Recorder, new_job

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PUBLIC_LOOKING = "127.0.0.2"  # stands for a public CDN address in these tests


async def serve(
    host: str, handler: Callable[[web.Request], Awaitable[web.Response]]
) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    return runner, f"http://{host}:{runner.addresses[0][1]}"


class Servers:
    def __init__(self) -> None:
        self.private_hits: list[str] = []
        self.cdn_hits: list[str] = []
        self.private = ""
        self.cdn = ""


@pytest_asyncio.fixture
async def servers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Servers]:
    """A private server (loopback) and a "public" CDN (127.0.0.2) redirecting to it."""
    found = Servers()

    async def private(request: web.Request) -> web.Response:
        found.private_hits.append(request.path)
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def cdn(request: web.Request) -> web.Response:
        found.cdn_hits.append(request.path)
        raise web.HTTPFound(f"{found.private}/internal-avatar.jpg")

    original = net_guard.is_public_address

    def public(address: str) -> bool:
        return address == PUBLIC_LOOKING or original(address)

    for module in (net_guard, reader, egress_proxy):
        monkeypatch.setattr(module, "is_public_address", public)
    private_runner, found.private = await serve("127.0.0.1", private)
    cdn_runner, found.cdn = await serve(PUBLIC_LOOKING, cdn)
    try:
        yield found
    finally:
        await cdn_runner.cleanup()
        await private_runner.cleanup()


@pytest.mark.parametrize("redirected", [False, True], ids=["private", "redirect-to-private"])
async def test_an_avatar_at_a_private_address_is_not_fetched_and_the_card_still_comes(
    tmp_path, simulator, media_server, short_video, servers, redirected
):
    avatar_url = f"{servers.cdn}/a.jpg" if redirected else f"{servers.private}/a.jpg"
    db = await open_database(tmp_path / "bot.sqlite3")
    client = ToapisClient(simulator.base_url, simulator.scenario.api_key)
    events = Recorder()
    tracker = JobTracker(
        client,
        JobRepository(db),
        CharacterRepository(db),
        events,
        timings=FAST,
        download=checked_download(allow_private=False),  # as deployed
    )
    try:
        simulator.scenario.update(hang=True)
        job = await tracker.submit(*new_job(f"{media_server}/{short_video.name}"))
        assert job.task_id is not None
        task = simulator.tasks[job.task_id]
        if task.runner is not None:
            task.runner.cancel()
        character = new_character(task.id, 1, simulator.base_url)
        task.complete([{**character, "profile_picture_url": avatar_url}])

        final = await tracker.wait(job.id)
        assert final is not None and final.announced_at is not None
        assert [e[2] for e in events.of("character")] == [character["id"]]
        stored = await tracker.characters.get(1, character["id"])
        assert stored is not None and stored.avatar is None  # the card, without a picture
        assert servers.private_hits == []  # nothing reached the private address
        assert servers.cdn_hits == (["/a.jpg"] if redirected else [])
    finally:
        await tracker.stop()
        await client.aclose()
        await db.close()
