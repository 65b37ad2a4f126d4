"""The bad-input matrix of issue 7, through the real bot (what `tests/core/test_orders.py`,
`tests/core/test_ranges.py` and `test_library.py` do not already cover).

Each hostile value gets a clear ephemeral answer, no call to toapis, no stored job, no
crash. Task ids of this server that toapis no longer knows are the exception: they can
only be refused by toapis, and the job then fails with its reason in plain words.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from bot.domain.records import JobState, NewJob, SourceKind
from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.cogs.test_character_create import EDIT_REPLY, create
from tests.cogs.test_character_list import seed
from tests.fakes import GUILD_ID, payloads
from tests.fakes.seen import shown_text, shown_title

CALLBACK = r"/interactions/\d+/[^/]+/callback"
FOLLOWUP = r"/webhooks/\d+/[^/]+"
EPHEMERAL = 64
SUBMIT = "/v1/videos/generations"
TEN_GB = 10 * 1024**3
SENT_BEFORE_WAITING = 1024 * 1024


async def answered_at_once(sora: Running, payload: dict[str, Any]) -> str:
    """The immediate ephemeral answer (type 4) to an interaction."""
    sora.fake.clear()
    sora.feed(payload)
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict) and call.json["type"] == 4, call.json
    assert call.json["data"]["flags"] == EPHEMERAL
    return str(call.json["data"]["content"])


async def answered_after_defer(sora: Running, payload: dict[str, Any]) -> str:
    """The ephemeral followup after a deferral; the "thinking" placeholder is removed."""
    sora.fake.clear()
    sora.feed(payload)
    followup = await sora.wait_call("POST", FOLLOWUP)
    assert isinstance(followup.json, dict) and followup.json["flags"] == EPHEMERAL
    assert sora.fake.calls_to("DELETE", FOLLOWUP + "/messages/@original")
    return str(followup.json["content"])


async def nothing_sent(sora: Running, simulator: Any) -> None:
    assert simulator.requests == []
    assert await sora.core.jobs.list_for_guild(GUILD_ID) == []


# --- task ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "words"),
    [
        ("", "exactly one source"),
        ("   ", "exactly one source"),
        ("t" * 101, "task id"),
        ("task_" + "A" * 200, "task id"),
        ("x'; DROP TABLE jobs;--", "task id"),
        ("task_01<script>alert(1)</script>", "task id"),
        ("../../v1/uploads/videos", "task id"),
        ("task_01ABC\r\nX-Injected: 1", "task id"),
        ("task_01ABC%2F..%2Fadmin", "task id"),
        ("@everyone", "task id"),
    ],
    ids=lambda v: repr(v)[:24],
)
async def test_bad_task_ids_are_refused_before_any_api_call(
    sora: Running, simulator, task_id, words
):
    content = await answered_at_once(sora, create(from_task=task_id))
    assert words in content
    await nothing_sent(sora, simulator)


async def test_a_task_id_toapis_does_not_know_fails_the_job_clearly(sora: Running, simulator):
    task_id = "task_01KBYT59JDHB4A3KDDR9N9JVWP"
    earlier = await sora.core.jobs.create(
        NewJob(GUILD_ID, SourceKind.URL, "https://example.com/a.mp4", 1, 3, "sora-2")
    )
    await sora.core.jobs.set_submitted(earlier.id, task_id, JobState.FAILED, 0)  # made here
    await sora.core.jobs.mark_announced(earlier.id)
    sora.feed(create(from_task=task_id))
    call = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Couldn't" in str(c.json))
    description = shown_text(call)
    assert "refused this request" in description and "not found" in description
    await sora.settle()
    [job, _] = await sora.core.jobs.list_for_guild(GUILD_ID)  # newest first
    assert job.state is JobState.FAILED and job.error_code == "InvalidRequestError"
    assert [r.path for r in simulator.requests] == [SUBMIT]  # asked once, never again
    assert simulator.submits == 0


# --- names for rename ----------------------------------------------------------------------


def rename(new_name: str) -> dict[str, Any]:
    return payloads.slash_command(
        "rename", {"name": f"ch_{GUILD_ID}_0", "new_name": new_name}, group="character"
    )


@pytest.mark.parametrize(
    ("new_name", "words"),
    [("", "can't be empty"), ("   \n\t ", "can't be empty"), ("x" * 1000, "at most 80")],
    ids=["empty", "blank", "1000 chars"],
)
async def test_bad_names_are_refused(sora: Running, simulator, new_name, words):
    await seed(sora, GUILD_ID, 1)
    assert words in await answered_at_once(sora, rename(new_name))
    character = await sora.core.characters.get(GUILD_ID, f"ch_{GUILD_ID}_0")
    assert character is not None and character.display_name == "Hero 00"
    assert simulator.requests == []


@pytest.mark.parametrize(
    "new_name",
    [
        "@everyone",
        "@here <@&1300000000000000999> <@1300000000000000302>",
        "**x** `y` ||z|| [a](https://b)",
    ],
    ids=["everyone", "mentions", "markdown"],
)
async def test_mentions_and_markdown_in_names_never_ping_or_format(
    sora: Running, simulator, new_name
):
    await seed(sora, GUILD_ID, 1)
    sora.fake.clear()
    sora.feed(rename(new_name))
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict)
    data = call.json["data"]
    assert data["flags"] == EPHEMERAL and data["allowed_mentions"]["parse"] == []
    stored = await sora.core.characters.get(GUILD_ID, f"ch_{GUILD_ID}_0")
    assert stored is not None and stored.display_name == new_name  # kept as typed

    sora.fake.clear()
    sora.feed(payloads.slash_command("show", {"name": f"ch_{GUILD_ID}_0"}, group="character"))
    shown = await sora.wait_call("POST", CALLBACK)
    assert isinstance(shown.json, dict)
    title = shown_title(shown)
    assert title != new_name  # escaped: no live mention, no formatting
    for raw in ("@everyone", "@here", "**x**", "`y`", "||z||", "<@&"):
        assert raw not in title
    assert shown.json["data"].get("allowed_mentions", {}).get("parse", []) == []
    assert simulator.requests == []


# --- URLs ------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def guarded(tmp_path, fake_discord, simulator) -> AsyncIterator[Running]:
    """A bot configured as in production: private addresses refused."""
    settings = bot_settings(tmp_path, fake_discord, simulator, allow_private_urls=False)
    running = await start_bot(settings, fake_discord)
    try:
        yield running
    finally:
        await running.bot.close()


@pytest.mark.parametrize(
    "host",
    [
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::ffff:192.168.0.1]",
        "[fe80::1%25eth0]",
        "[fd00:1234::1]",
        "[fc00::1]",
        "[ff02::1]",
        "[2001:db8::1]",
        "[64:ff9b::10.0.0.1]",
        "[::ffff:169.254.169.254]",
    ],
)
async def test_ipv6_literals_of_private_networks_are_refused(guarded: Running, simulator, host):
    content = await answered_at_once(guarded, create(url=f"http://{host}:8080/a.mp4"))
    assert "private network" in content
    assert "ALLOW_PRIVATE_URLS" not in content  # a setting for the owner, not for members
    await nothing_sent(guarded, simulator)


@pytest.mark.parametrize("host", ["0x7f000001", "2130706433", "0177.0.0.1", "127.1"])
async def test_odd_spellings_of_loopback_are_refused_after_resolution(
    guarded: Running, simulator, host
):
    content = await answered_after_defer(guarded, create(url=f"http://{host}/a.mp4"))
    assert "private network" in content
    await nothing_sent(guarded, simulator)


async def test_a_refusal_reaches_the_member_whose_reply_a_moderator_deleted(
    guarded: Running, simulator
):
    """The "thinking…" reply is gone before the refusal: Discord answers 404 to its
    removal and to the followup that would replace it; the reason comes by DM."""
    unknown = {"code": 10008, "message": "Unknown Message"}
    guarded.fake.fail_next("DELETE", FOLLOWUP + "/messages/@original", 404, unknown)
    guarded.fake.fail_next("POST", FOLLOWUP, 404, unknown)
    guarded.feed(create(url="http://127.1/a.mp4"))
    dm = await guarded.wait_call("POST", r"/channels/\d+/messages")
    assert isinstance(dm.json, dict) and "private network" in dm.json["content"]
    assert guarded.fake.calls_to("POST", r"/users/@me/channels")
    await nothing_sent(guarded, simulator)


class HugeServer:
    """Announces a 10 GB video: by Content-Range (206) or by Content-Length (200)."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ranged.mp4", self._ranged)
        app.router.add_get("/whole.mp4", self._whole)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stream(self, request: web.Request, response: web.StreamResponse) -> None:
        name = request.path
        self.sent[name] = 0
        await response.prepare(request)
        chunk = b"\0" * 65536
        try:
            while self.sent[name] < SENT_BEFORE_WAITING:
                await response.write(chunk)
                self.sent[name] += len(chunk)
            # The rest "would" follow: wait for the client to hang up instead.
            for _ in range(500):
                if request.transport is None or request.transport.is_closing():
                    break
                await asyncio.sleep(0.01)
        except (ConnectionResetError, ConnectionError):
            pass

    async def _ranged(self, request: web.Request) -> web.StreamResponse:
        first, _, last = (
            request.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
        )
        end = int(last) if last else TEN_GB - 1
        response = web.StreamResponse(status=206)
        response.headers["Content-Range"] = f"bytes {first}-{end}/{TEN_GB}"
        response.headers["Content-Type"] = "video/mp4"
        response.content_length = end - int(first) + 1
        await self._stream(request, response)
        return response

    async def _whole(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.headers["Content-Type"] = "video/mp4"
        response.content_length = TEN_GB
        await self._stream(request, response)
        return response


@pytest.mark.parametrize("path", ["/ranged.mp4", "/whole.mp4"])
async def test_ten_gigabytes_are_refused_as_too_big_without_downloading(
    sora: Running, simulator, path
):
    server = HugeServer()
    base = await server.start()
    try:
        content = await answered_after_defer(sora, create(url=base + path))
        assert "10240 MB" in content and "limit" in content
        await nothing_sent(sora, simulator)
        assert server.sent.get(path, 0) <= SENT_BEFORE_WAITING  # only what was pushed
    finally:
        await server.stop()
