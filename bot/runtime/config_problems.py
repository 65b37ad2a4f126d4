"""What is wrong with a setting, said so a person can fix it: `Problem`, `ConfigError`,
`one_line`; and the parser of SHARD_IDS, whose errors they report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

WHERE = "in the environment or in a .env file (copy .env.example to .env and fill it in)"


def parse_shard_ids(text: str) -> list[int]:
    """Shard numbers from ``0-3`` or ``0,2,5-7`` (sorted, each once; empty: none given).

    Raises ValueError saying what is wrong.
    """
    ids: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise ValueError(f"{part!r} is not a shard number or a range like 0-3")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"the range {part!r} runs backwards")
        if last - first > 10000:
            raise ValueError(f"the range {part!r} is too long")
        ids.update(range(first, last + 1))
    return sorted(ids)


class Problem(NamedTuple):
    """One missing or invalid setting: what is wrong and how to fix it."""

    setting: str
    what: str
    fix: str


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line a person can act on.

    `problems` lists every missing or invalid setting found at once (may be empty when
    the message alone says it).
    """

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


def one_line(problems: Sequence[Problem]) -> str:
    """Every problem in one sentence: the settings not set together, then invalid ones."""
    missing = [p.setting for p in problems if p.what.endswith(" is not set")]
    parts = []
    if missing:
        verb, them = ("is", "it") if len(missing) == 1 else ("are", "them")
        parts.append(f"{' and '.join(missing)} {verb} not set: put {them} {WHERE}")
    parts += [f"{p.what}: {p.fix}" for p in problems if p.setting not in missing]
    return "; ".join(parts) + "."
