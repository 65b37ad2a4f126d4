"""The soak's reading of what members saw can fail: a card twice, a task twice, silence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.fakes.discord_store import MessageStore, TokenThread

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from _soak_outcomes import Outcomes, Request, range_mark

TASK = "task_" + "A" * 26
OTHER = "task_" + "B" * 26
SEED = "task_" + "S" * 26  # the source task every card names too


def card(message_id: int, user: int) -> dict[str, Any]:
    fields = [
        {"name": "Source", "value": f"earlier task `{SEED}`"},
        {"name": "Character id", "value": "`ch_1`"},
        {"name": "Task id", "value": f"`{TASK}`"},
    ]
    return {
        "id": str(message_id),
        "channel_id": "5",
        "content": f"<@{user}>",
        "embeds": [{"title": "Ada", "fields": fields}],
    }


def v2_card(message_id: int) -> dict[str, Any]:
    text = f"## Ada\n**Character id**\n`ch_1`\n**Task id**\n`{TASK}`"
    container = {"type": 17, "components": [{"type": 10, "content": text}]}
    return {"id": str(message_id), "channel_id": "5", "flags": 1 << 15, "components": [container]}


def test_a_card_twice_a_task_twice_and_silence_are_all_reported() -> None:
    store = MessageStore()
    store.messages[1] = card(1, 11)
    store.messages[2] = v2_card(2)  # the same card again, as Components V2
    store.messages[3] = {"id": "3", "channel_id": "5", "content": "", "flags": 128}
    store.tokens["t1"] = TokenThread(original_id=1, acknowledged=True)
    store.tokens["t2"] = TokenThread(original_id=3, acknowledged=True)
    requests = [Request(0, 11, "t1", 0.0), Request(1, 12, "t2", 0.0), Request(2, 13, "t3", 0.0)]
    summary = Outcomes(store, requests).summary({0: [TASK, OTHER]}, [TASK, OTHER], 0)
    assert summary["outcomes"] == {"card": 1, "silent": 1, "unanswered": 1}
    assert [case["n"] for case in summary["not_final"]] == [1, 2]
    assert summary["tasks_twice"] == [{"n": 0, "tasks": [TASK, OTHER]}]
    assert summary["cards_twice"] == [{"task": TASK, "messages": 2}]
    assert [m["task"] for m in summary["cards_missing"]] == [OTHER]
    assert not summary["settled"]


def test_a_reason_in_a_new_message_is_final_and_found_by_its_range() -> None:
    store = MessageStore()
    failure = {
        "title": "Couldn't create a character",
        "fields": [{"name": "Range", "value": f"{range_mark(7)} (2 s)"}],
    }
    store.messages[9] = {"id": "9", "channel_id": "5", "content": None, "embeds": [failure]}
    store.tokens["t"] = TokenThread(original_id=4, acknowledged=True)  # the reply was deleted
    summary = Outcomes(store, [Request(7, 17, "t", 0.0)]).summary({}, [], 0)
    assert summary["outcomes"] == {"reason": 1}
    assert summary["reasons"] == {"Couldn't create a character": 1}
    assert summary["settled"]


def test_a_request_never_acknowledged_does_not_keep_the_run_waiting() -> None:
    store = MessageStore()
    store.messages[1] = card(1, 11)
    store.tokens["t1"] = TokenThread(original_id=1, acknowledged=True)
    # Request 1 died with a SIGKILL before the bot acknowledged it: it will never be
    # answered, so waiting changes nothing; the checks still see it (and judge when).
    requests = [Request(0, 11, "t1", 0.0), Request(1, 12, "t2", 5.0)]
    summary = Outcomes(store, requests).summary({0: [TASK]}, [TASK], 0, now=9.0)
    assert summary["settled"]
    # Within Discord's 3 s it may still be acknowledged: the run waits for it.
    assert not Outcomes(store, requests).summary({0: [TASK]}, [TASK], 0, now=7.0)["settled"]
    assert summary["not_final"] == [{"n": 1, "state": "unanswered", "shows": "", "arrived": 5.0}]
    # A request acknowledged and left silent keeps it waiting.
    store.messages[2] = {"id": "2", "channel_id": "5", "content": "", "flags": 128}
    store.tokens["t2"] = TokenThread(original_id=2, acknowledged=True)
    assert not Outcomes(store, requests).summary({0: [TASK]}, [TASK], 0, now=9.0)["settled"]
