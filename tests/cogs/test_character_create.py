"""`/character create` through real discord.py, the fake Discord REST server and the simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.cogs.conftest import Running, bot_settings, start_bot
from tests.fakes import (
    APP_ID,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_USER_ID,
    USER_ID,
    RecordedCall,
    payloads,
)
from tests.fakes.seen import buttons, shown_fields, shown_text, shown_title, thumbnails

EPHEMERAL = 64
CALLBACK = r"/interactions/\d+/[^/]+/callback"
# The reply is edited with the interaction token while it is valid, else the bot token.
EDIT_REPLY = rf"(?:/channels/{CHANNEL_ID}|/webhooks/{APP_ID}/[^/]+)/messages/\d+"
BOT_EDIT = rf"/channels/{CHANNEL_ID}/messages/\d+"


def create(**options: Any) -> dict[str, Any]:
    user_id = int(options.pop("user_id", USER_ID))
    options.setdefault("start", "1")
    options.setdefault("end", "3")
    return payloads.slash_command("create", options, group="character", user_id=user_id)


def is_card(call: Any) -> bool:
    """A character card, in either form (the `Character id` field is only on cards)."""
    return "Character id" in shown_fields(call)


async def test_url_source_defers_shows_progress_and_becomes_the_card(
    sora: Running, simulator, media_server, short_video
):
    url = f"{media_server}/{short_video.name}"
    sora.feed(create(url=url, model="sora-2-pro"))

    callback = await sora.wait_call("POST", CALLBACK)
    assert callback.json == {"type": 5}  # deferred, public ("thinking")
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)

    submit = [r for r in simulator.requests if r[1] == "/v1/videos/generations"]
    assert [r[2] for r in submit] == [{"model": "sora-2-pro", "timestamps": "1,3", "url": url}]
    progress = [c for c in sora.fake.calls_to("PATCH", EDIT_REPLY) if not is_card(c)]
    assert progress, "no progress edit was made"
    assert any("%" in shown_text(c) for c in progress)
    percents = [shown_text(c).split("%")[0].split()[-1] for c in progress]
    assert [int(p) for p in percents] == sorted(int(p) for p in percents)

    info = shown_fields(card)
    [character] = await sora.core.characters.list_for_guild(GUILD_ID)
    assert shown_title(card) == character.display_name
    assert f"Use it in a Sora prompt: `@{character.username}`" in shown_text(card)
    assert info["Character id"] == f"`{character.character_id}`"
    assert info["Task id"] == f"`{character.task_id}`"
    assert info["Model"] == "sora-2-pro" and info["Requested by"] == f"<@{USER_ID}>"
    assert url in info["Source"] and info["Range"].startswith("0:01–0:03")
    assert thumbnails(card) == ["attachment://avatar.jpg"]
    [(_, filename, data)] = card.files
    stored = await sora.core.characters.get(GUILD_ID, character.character_id)
    assert filename == "avatar.jpg" and data == stored.avatar and data.startswith(b"\xff\xd8")

    ping = await sora.wait_call("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert isinstance(ping.json, dict) and f"<@{USER_ID}>" in ping.json["content"]


async def test_attachment_source(sora: Running, simulator, short_video):
    sora.fake.add_media("phone.mp4", short_video)
    attachment = sora.fake.media_attachment("phone.mp4")
    payload = payloads.slash_command(
        "create",
        {"start": "0:01", "end": "0:02.5"},
        group="character",
        attachments={"video": attachment},
    )
    sora.feed(payload)
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert "phone.mp4" in shown_fields(card)["Source"]
    # Discord attachment links expire: the moment is cut, uploaded, and shown to the user.
    [submitted] = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
    assert submitted["url"].startswith(f"{simulator.base_url}/uploads/")
    assert submitted["timestamps"] == "1,2.5"
    [shown] = sora.fake.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original")
    assert "Clip sent" in str(shown.json)
    assert [name for _, name, _ in shown.files] == ["clip.mp4"]


async def test_from_task_source(sora: Running, simulator, media_server, short_video):
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [first] = await sora.core.characters.list_for_guild(GUILD_ID)
    sora.fake.clear()
    sora.feed(create(from_task=first.task_id, start="2", end="4"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    posts = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
    assert posts[-1] == {"model": "sora-2", "timestamps": "2,4", "from_task": first.task_id}


async def test_failed_task_says_why_in_plain_words(
    sora: Running, simulator, media_server, short_video
):
    simulator.scenario.update(
        fail_with=["generation_failed", "Generation failed: Content violates the content policy"]
    )
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    call = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Couldn't" in str(c.json))
    shown = shown_text(call)
    assert "Content violates the content policy" in shown and "What to do next" in shown
    assert "{" not in shown and "Traceback" not in shown
    assert await sora.core.characters.count_for_guild(GUILD_ID) == 0


def says(words: str) -> Callable[[RecordedCall], bool]:
    return lambda call: words in str(call.json)


async def test_service_refusals_are_explained(sora: Running, simulator, media_server, short_video):
    """A refused account holds the job in line, says why, and sends it once fixed."""
    url = f"{media_server}/{short_video.name}"
    sora.core.tracker.line.hold_retry = 0.2  # minutes in production
    cases = [
        ([401, {"error": {"code": 401, "message": "Authentication failed"}}], "key was refused"),
        (
            [402, {"error": {"code": 402, "message": "Insufficient account balance"}}],
            "account needs a top-up",
        ),
    ]
    simulator.scenario.update(submit_status=cases[0][0])
    sora.feed(create(url=url))
    for status, words in cases:
        simulator.scenario.update(submit_status=status)
        call = await sora.wait_call("PATCH", EDIT_REPLY, says(words))
        assert "Couldn't" not in str(call.json)
    simulator.scenario.update(submit_status=None)
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert simulator.submits == 1
    simulator.scenario.update(submit_status=None, rate_limit_submits=4, retry_after=0)
    sora.fake.clear()
    sora.feed(create(url=url))
    waiting = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "retrying" in str(c.json))
    assert "Queued at toapis" in shown_text(waiting)
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)  # accepted once toapis calmed down
    assert simulator.submits == 2  # one task for each of the two jobs


async def test_a_retired_model_is_said_plainly_and_the_next_member_is_told_at_once(
    sora: Running, simulator, media_server, short_video
):
    simulator.scenario.update(retired_models=["sora-2-pro"])
    url = f"{media_server}/{short_video.name}"
    sora.feed(create(url=url, model="sora-2-pro"))
    failed = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Couldn't" in str(c.json))
    words = shown_text(failed)
    assert "sora-2-pro is not available from the service right now" in words
    assert "Pick another model" in words
    assert simulator.submits == 0 and len(submit_requests(simulator)) == 1

    sora.fake.clear()
    sora.feed(create(url=url, model="sora-2-pro", user_id=OTHER_USER_ID))
    told = await sora.wait_call("POST", CALLBACK)
    assert isinstance(told.json, dict)
    assert told.json["type"] == 4 and told.json["data"]["flags"] == EPHEMERAL
    assert "sora-2-pro is not available" in told.json["data"]["content"]
    assert len(submit_requests(simulator)) == 1  # nothing more was sent


def submit_requests(simulator) -> list[Any]:
    return [r for r in simulator.requests if r[1] == "/v1/videos/generations"]


async def test_server_error_at_submit_is_unknown_not_resent(
    sora: Running, simulator, media_server, short_video
):
    simulator.scenario.update(server_errors=1)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    call = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Unknown" in str(c.json))
    assert "Retry" in str(call.json)
    await sora.settle()
    assert len([r for r in simulator.requests if r[1] == "/v1/videos/generations"]) == 1


async def test_bad_input_is_answered_ephemerally_before_any_api_call(sora: Running, simulator):
    cases = [
        ({"url": "https://example.com/a.mp4", "start": "1", "end": "9"}, "at most 3"),
        ({"url": "https://example.com/a.mp4", "start": "abc", "end": "2"}, "seconds"),
        ({"url": "https://example.com/a.mp4", "start": "2", "end": "1"}, "after"),
        ({"start": "1", "end": "3"}, "exactly one source"),
        ({"url": "ftp://example.com/a.mp4"}, "Only http"),
        ({"from_task": "'; drop table jobs; --"}, "task id"),
    ]
    for options, words in cases:
        sora.fake.clear()
        sora.feed(create(**options))
        call = await sora.wait_call("POST", CALLBACK)
        assert isinstance(call.json, dict) and call.json["type"] == 4
        assert call.json["data"]["flags"] == EPHEMERAL
        assert words in call.json["data"]["content"]
    assert simulator.requests == []
    assert await sora.core.jobs.list_for_guild(GUILD_ID) == []


async def test_private_address_found_after_defer_removes_the_placeholder(
    tmp_path, fake_discord, simulator
):
    running = await start_bot(
        bot_settings(tmp_path, fake_discord, simulator, allow_private_urls=False), fake_discord
    )
    try:
        running.feed(create(url="http://localhost./clip.mp4"))
        await running.wait_call("POST", CALLBACK)
        followup = await running.wait_call("POST", r"/webhooks/\d+/[^/]+")
        assert isinstance(followup.json, dict) and followup.json["flags"] == EPHEMERAL
        assert running.fake.calls_to("DELETE", r"/webhooks/\d+/[^/]+/messages/@original")
        assert simulator.requests == []
    finally:
        await running.bot.close()


async def test_dm_is_told_to_use_a_server(sora: Running):
    sora.feed(
        payloads.slash_command("create", {"start": "1", "end": "3"}, group="character", dm=True)
    )
    call = await sora.wait_call("POST", CALLBACK)
    assert isinstance(call.json, dict) and "server" in call.json["data"]["content"]


async def test_restart_mid_job_gives_exactly_one_card(
    tmp_path, fake_discord, simulator, media_server, short_video
):
    simulator.scenario.update(hang=True)
    settings = bot_settings(tmp_path, fake_discord, simulator)
    first = await start_bot(settings, fake_discord)
    first.feed(create(url=f"{media_server}/{short_video.name}"))
    await first.wait_call("PATCH", EDIT_REPLY, lambda c: "Extracting" in str(c.json))
    await first.bot.close()

    simulator.scenario.update(hang=False)
    second = await start_bot(settings, fake_discord)
    try:
        await second.wait_call("PATCH", EDIT_REPLY, is_card)
        await second.settle()
        cards = [c for c in fake_discord.calls_to("PATCH", EDIT_REPLY) if is_card(c)]
        assert len(cards) == 1
        assert await second.core.characters.count_for_guild(GUILD_ID) == 1
        assert simulator.submits == 1
    finally:
        await second.bot.close()


async def test_unreadable_answer_to_create_is_shown_as_unknown_and_not_resent(
    sora: Running, simulator, media_server, short_video
):
    simulator.scenario.update(malformed=1)
    sora.feed(create(url=f"{media_server}/{short_video.name}"))
    call = await sora.wait_call("PATCH", EDIT_REPLY, lambda c: "Unknown" in str(c.json))
    assert "not sent again" in shown_text(call)
    await sora.settle()
    assert len([r for r in simulator.requests if r[1] == "/v1/videos/generations"]) == 1

    # Only a person's explicit Retry sends it again.
    unknown = sora.fake.message(int(call.path.rsplit("/", 1)[1]))
    assert unknown is not None
    [retry] = buttons(unknown)
    assert retry["label"] == "Retry"
    stranger = payloads.component_click(
        retry["custom_id"], unknown, user_id=OTHER_USER_ID, permissions="0"
    )
    sora.fake.clear()
    sora.feed(stranger)
    denied = await sora.wait_call("POST", CALLBACK)
    assert isinstance(denied.json, dict) and "Only the person" in denied.json["data"]["content"]
    sora.fake.clear()
    first, second = (payloads.component_click(retry["custom_id"], unknown) for _ in range(2))
    sora.feed(first)
    sora.feed(second)  # a double click, or two moderators at once
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    await sora.settle()
    assert len([r for r in simulator.requests if r[1] == "/v1/videos/generations"]) == 2
    answers = [c.json for c in sora.fake.calls_to("POST", CALLBACK)]
    assert any("already sent again" in str(a) for a in answers)


async def test_video_without_sound_is_refused_after_defer_without_an_api_call(
    sora: Running, simulator, media_server, silent_video
):
    sora.feed(create(url=f"{media_server}/{silent_video.name}"))
    followup = await sora.wait_call("POST", r"/webhooks/\d+/[^/]+")
    assert isinstance(followup.json, dict) and followup.json["flags"] == EPHEMERAL
    assert "no sound" in followup.json["content"]
    assert sora.fake.calls_to("DELETE", r"/webhooks/\d+/[^/]+/messages/@original")
    assert simulator.requests == []


async def test_page_link_is_read_with_yt_dlp_cut_and_uploaded(
    sora: Running, simulator, media_dir, media_server, short_video
):
    (media_dir / "watch.html").write_text(
        f'<html><head><title>Clip</title></head><body><video src="/{short_video.name}">'
        "</video></body></html>"
    )
    sora.feed(create(url=f"{media_server}/watch.html", start="2", end="4"))
    card = await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert "watch.html" in shown_fields(card)["Source"]
    [submitted] = [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]
    assert submitted["url"].startswith(f"{simulator.base_url}/uploads/")
    assert submitted["timestamps"] == "1,3"  # clip-relative, whole seconds


async def test_playlist_page_is_refused_without_an_api_call(
    sora: Running, simulator, media_dir, media_server, short_video
):
    (media_dir / "two.html").write_text(
        f'<html><body><video src="/{short_video.name}"></video>'
        f'<video src="/{short_video.name}?b"></video></body></html>'
    )
    sora.feed(create(url=f"{media_server}/two.html"))
    followup = await sora.wait_call("POST", r"/webhooks/\d+/[^/]+")
    assert isinstance(followup.json, dict) and "playlist" in followup.json["content"]
    assert simulator.requests == []
