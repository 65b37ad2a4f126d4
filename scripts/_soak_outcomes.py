"""What the members of a soak run saw: each request's final message, cards per task.

A message is read as its JSON text, so embeds and Components V2 (text displays in a
container) read alike: a card says "Character id" and names its task; a reply still at
work says "Started <t:" (progress, place in line) or is the deferred "thinking" state.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from _load_world import card_task

from bot.domain.ranges import format_clock
from tests.fakes.discord_store import MessageStore

LOADING = 1 << 7
LABEL = re.compile(r'"(?:title|content)": "([^"]{1,70})')
ACK_SECONDS = 3.0  # Discord's time to acknowledge an interaction
SPAN = 3  # request n asks for n*3 s to n*3+2 s: its range is its mark in every message


@dataclass(frozen=True)
class Request:
    """One member request as dispatched."""

    n: int
    user: int
    token: str
    arrived: float


def visible(message: dict[str, Any]) -> dict[str, Any]:
    """What a member reads of a message (not, say, the message a reply points at)."""
    return {k: message.get(k) for k in ("content", "embeds", "components")}


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(visible(message), ensure_ascii=False)


def range_mark(n: int) -> str:
    """The range as a job's message shows it (`0:03–0:05`)."""
    return f"{format_clock(n * SPAN)}–{format_clock(n * SPAN + 2)}"


class Outcomes:
    """Reads the fake Discord's live messages once and answers per request and task."""

    def __init__(self, store: MessageStore, requests: list[Request]) -> None:
        self.store = store
        self.requests = requests
        self.texts = {mid: text_of(m) for mid, m in store.messages.items()}

    @staticmethod
    def in_progress(message: dict[str, Any]) -> bool:
        """Still at work: deferred with nothing shown yet, or showing progress."""
        text = text_of(message)
        empty = not message.get("content") and not message.get("embeds")
        if int(message.get("flags") or 0) & LOADING and empty and not message.get("components"):
            return True
        return "Started <t:" in text or "Still running at toapis" in text

    def kind(self, message_id: int) -> str:
        """card, progress, ping or final (a reason the member can read)."""
        message = self.store.messages[message_id]
        if card_task(visible(message)) is not None:
            return "card"
        if self.in_progress(message):
            return "progress"
        content = str(message.get("content") or "")
        if content.startswith("<@") and "ready" in content and not message.get("embeds"):
            return "ping"
        return "final"

    def candidates(self, request: Request) -> list[int]:
        """Every live message that belongs to the request, oldest first."""
        thread = self.store.tokens.get(request.token)
        ids: set[int] = set()
        if thread is not None:
            ids.update(i for i in [thread.original_id, *thread.followup_ids] if i is not None)
        marks = (f"<@{request.user}>", range_mark(request.n))
        ids.update(mid for mid, text in self.texts.items() if any(m in text for m in marks))
        dm = self.store.dm_channels.get(request.user)
        if dm is not None:
            ids.update(int(m["id"]) for m in self.store.messages_in(dm))
        return sorted(i for i in ids if i in self.texts)

    def outcome(self, request: Request) -> tuple[str, str]:
        """(card | reason | silent | unanswered, the label of what the member sees)."""
        kinds = [(self.kind(i), i) for i in self.candidates(request)]
        for wanted in ("card", "final"):
            found = [i for k, i in kinds if k == wanted]
            if found:
                label = LABEL.search(self.texts[found[-1]])
                return ("card" if wanted == "card" else "reason"), label.group(1) if label else ""
        thread = self.store.tokens.get(request.token)
        shown = [self.texts[i][:120] for _, i in kinds if i in self.texts]
        if thread is None or not thread.acknowledged:
            return "unanswered", ""
        return "silent", shown[-1] if shown else "(nothing)"

    def cards_per_task(self) -> Counter[str]:
        """Live messages showing each task's card."""
        counted: Counter[str] = Counter()
        for mid in self.texts:
            task = card_task(visible(self.store.messages[mid]))
            if task is not None:
                counted[task] += 1
        return counted

    def summary(
        self,
        tasks_by_n: dict[int, list[str]],
        completed: list[str],
        running: int,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Every figure `soak.py` checks, with the offending cases listed."""
        states: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        not_final: list[dict[str, Any]] = []
        outcome_of: dict[int, str] = {}
        for request in self.requests:
            state, label = self.outcome(request)
            states[state] += 1
            outcome_of[request.n] = state
            if state == "reason":
                reasons[label] += 1
            elif state in ("silent", "unanswered"):
                not_final.append(
                    {"n": request.n, "state": state, "shows": label, "arrived": request.arrived}
                )
        cards = self.cards_per_task()
        n_of = {t: n for n, tasks in tasks_by_n.items() for t in tasks}
        missing = [
            {"task": t, "n": n_of.get(t), "request": outcome_of.get(n_of.get(t, -1), "?")}
            for t in completed
            if cards[t] == 0
        ]
        unexplained = [m for m in missing if m["request"] != "reason"]
        # A request not acknowledged within Discord's 3 s never will be (Discord does not
        # send an interaction again): waiting longer changes nothing (the checks judge it).
        now = time.time() if now is None else now
        waiting = [
            case
            for case in not_final
            if case["state"] != "unanswered" or case["arrived"] > now - ACK_SECONDS
        ]
        return {
            "settled": not waiting and not unexplained and running == 0,
            "requests": len(self.requests),
            "outcomes": dict(states),
            "reasons": dict(reasons),
            "not_final": not_final,
            "tasks": sum(len(t) for t in tasks_by_n.values()),
            "tasks_twice": [{"n": n, "tasks": t} for n, t in tasks_by_n.items() if len(t) > 1],
            "completed": len(completed),
            "cards_missing": missing,
            "cards_twice": [{"task": t, "messages": c} for t, c in cards.items() if c > 1],
        }
