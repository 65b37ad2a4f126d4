"""`/character create` without a range: the bot suggests the moment (issue 16)."""

from __future__ import annotations

from typing import Any

from tests.cogs.conftest import Running
from tests.cogs.test_character_create import CALLBACK, EDIT_REPLY, EPHEMERAL, is_card
from tests.fakes import APP_ID, payloads

MODAL = 9
MODAL_SUBMIT = 5  # the interaction type of a submitted form
ORIGINAL = rf"/webhooks/{APP_ID}/[^/]+/messages/@original"


def json_of(call: Any) -> Any:
    return call.json


def ask(**options: Any) -> dict[str, Any]:
    return payloads.slash_command("create", options, group="character")


def buttons(message: dict[str, Any]) -> dict[str, str]:
    return {b["label"]: b["custom_id"] for row in message["components"] for b in row["components"]}


def submits(simulator: Any) -> list[Any]:
    return [r[2] for r in simulator.requests if r[1] == "/v1/videos/generations"]


async def suggestion_of(sora: Running, payload: dict[str, Any], words: str) -> dict[str, Any]:
    """Ask, then the private reply once it says `words`, as stored by the fake Discord."""
    sora.fake.clear()
    sora.feed(payload)  # a form's submit is delivered once the bot holds the form
    deferred = await sora.wait_call("POST", CALLBACK)
    assert json_of(deferred) == {"type": 5, "data": {"flags": EPHEMERAL}}
    # The analysis decodes the video and looks for faces: slow on a loaded machine.
    await sora.wait_call("PATCH", ORIGINAL, lambda c: words in str(c.json), within=60)
    message_id = sora.fake.store.thread(payload["token"]).original_id
    assert message_id is not None
    message = sora.fake.message(message_id)
    assert message is not None
    return message


def seconds(label: str) -> tuple[float, float]:
    start, end = label.split("-")
    return tuple(int(m) * 60 + float(s) for m, s in (t.split(":") for t in (start, end)))  # type: ignore[return-value]


async def test_no_range_suggests_where_the_face_speaks_and_use_this_makes_the_card(
    sora: Running, simulator, media_server, face_video
):
    url = f"{media_server}/{face_video.name}"
    message = await suggestion_of(sora, ask(url=url), "Suggested moment")
    embed = message["embeds"][0]
    start, end = seconds(embed["title"].split(": ")[1])
    assert 4 <= start < end <= 9 and 1 <= end - start <= 3
    assert (
        embed["description"].startswith("one face, ")
        and "% of the frame, speech" in (embed["description"])
    )
    assert embed["image"]["url"] == "attachment://moment.jpg"
    [(_, name, sheet)] = sora.fake.calls_to("PATCH", ORIGINAL)[-1].files
    assert name == "moment.jpg" and sheet.startswith(b"\xff\xd8")
    assert list(buttons(message)) == ["Use this", "Next suggestion", "Pick my own range"]
    assert simulator.requests == []  # nothing is sent before the member agrees

    sora.feed(payloads.component_click(buttons(message)["Use this"], message))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    [sent] = submits(simulator)
    assert sent["timestamps"] == f"{start:g},{end:g}" and sent["url"] == url


async def test_next_suggestion_and_pick_my_own_range(sora: Running, media_server, face_video):
    message = await suggestion_of(
        sora, ask(url=f"{media_server}/{face_video.name}"), "Suggested moment"
    )
    first = message["embeds"][0]["title"]
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(message)["Next suggestion"], message))
    updated = await sora.wait_call("POST", CALLBACK)
    assert json_of(updated)["type"] == 7  # the same private message, another window
    assert json_of(updated)["data"]["embeds"][0]["title"] != first
    assert "Suggestion 2 of" in json_of(updated)["data"]["embeds"][0]["footer"]["text"]

    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(message)["Pick my own range"], message))
    form = await sora.wait_call("POST", CALLBACK)
    assert json_of(form)["type"] == MODAL


async def test_no_face_says_so_and_offers_the_form(
    sora: Running, simulator, media_server, short_video
):
    message = await suggestion_of(sora, ask(url=f"{media_server}/{short_video.name}"), "no face")
    assert "I found no face in the first 0:05" in message["content"]
    assert list(buttons(message)) == ["Pick my own range"]
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(message)["Pick my own range"], message))
    form = await sora.wait_call("POST", CALLBACK)
    assert json_of(form)["type"] == MODAL
    assert simulator.requests == []


async def test_a_given_range_is_sent_at_once_and_a_note_says_when_another_looks_better(
    sora: Running, simulator, media_server, face_video
):
    url = f"{media_server}/{face_video.name}"
    sora.feed(ask(url=url, start="0", end="2"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    assert [s["timestamps"] for s in submits(simulator)] == ["0,2"]
    note = await sora.wait_call(
        "POST", rf"/webhooks/{APP_ID}/[^/]+", lambda c: "looks better" in str(c.json)
    )
    assert json_of(note)["flags"] == EPHEMERAL
    assert json_of(note)["content"].startswith("no face found in 0:00-0:02; 0:04")
    [label] = [b["label"] for row in json_of(note)["components"] for b in row["components"]]
    assert label.startswith("Create from 0:04")


async def test_a_good_range_gets_no_note(sora: Running, simulator, media_server, face_video):
    sora.feed(ask(url=f"{media_server}/{face_video.name}", start="5", end="7"))
    await sora.wait_call("PATCH", EDIT_REPLY, is_card)
    opinions = sora.bot.get_cog("CharacterCog")._opinions  # type: ignore[union-attr]
    while opinions:
        [task] = opinions
        await task
    notes = sora.fake.calls_to("POST", rf"/webhooks/{APP_ID}/[^/]+")
    assert not [c for c in notes if "looks better" in str(c.json)]


async def test_start_without_end_and_an_expired_suggestion(sora: Running, media_server, face_video):
    sora.fake.clear()
    sora.feed(ask(url=f"{media_server}/{face_video.name}", start="1"))
    told = await sora.wait_call("POST", CALLBACK)
    assert json_of(told)["data"]["flags"] == EPHEMERAL
    assert "both `start` and `end`, or neither" in json_of(told)["data"]["content"]

    message = await suggestion_of(
        sora, ask(url=f"{media_server}/{face_video.name}"), "Suggested moment"
    )
    sora.bot.get_cog("CharacterCog").suggest.suggester.store._items.clear()  # type: ignore[union-attr]
    sora.fake.clear()
    sora.feed(payloads.component_click(buttons(message)["Use this"], message))
    expired = await sora.wait_call("POST", CALLBACK)
    assert "suggestion expired" in json_of(expired)["data"]["content"]


async def test_the_range_form_left_empty_suggests(sora: Running, simulator, face_video):
    from tests.cogs.test_library import modal_values
    from tests.fakes import OTHER_USER_ID

    sora.fake.add_media("posted.mp4", face_video)
    posted = payloads.message(
        content="look",
        attachments=[sora.fake.media_attachment("posted.mp4")],
        author=payloads.user(OTHER_USER_ID, "poster"),
    )
    sora.fake.add_message(posted)
    sora.fake.clear()
    sora.feed(payloads.message_command("Create Sora character", posted))
    form = json_of(await sora.wait_call("POST", CALLBACK))
    assert form["type"] == MODAL
    custom_id, values = modal_values(form, start="", end="")
    message = await suggestion_of(sora, payloads.modal_submit(custom_id, values), "Suggested")
    start, end = seconds(message["embeds"][0]["title"].split(": ")[1])
    assert 4 <= start < end <= 9
    assert simulator.requests == []


async def test_help_explains_the_optional_range(sora: Running):
    sora.fake.clear()
    sora.feed(payloads.slash_command("help", {}))
    text = str(json_of(await sora.wait_call("POST", CALLBACK)))
    assert "Without `start` and `end` the bot suggests the best moment" in text
    assert "give both `start` and `end` or neither" in text
