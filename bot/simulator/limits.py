"""The simulator's rate limits: sliding windows per second and per 10 s, as toapis counts.

Every accepted request is logged with its arrival time; a request that would make any
window hold more than its limit is answered 429 (not charged, as toapis documents) with
`Retry-After` (whole seconds, rounded up) and `X-RateLimit-*`. Counters are served at
`GET /_sim/limits` so tests and the benchmark can check what the bot really did.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Same table as the bot's (bot.net.rate_budget.TIERS), restated so the simulator stands alone.
TIER_RATES: dict[str, dict[str, tuple[int, int]]] = {
    "default": {"submit": (5, 50), "query": (50, 500)},
    "vip": {"submit": (16, 160), "query": (166, 1660)},
    "svip": {"submit": (33, 330), "query": (500, 5000)},
}
CATEGORIES = {"submit": "async_submit", "query": "async_query"}


@dataclass
class Window:
    """One kind of request (submit or query) under a per-second and a per-10 s limit."""

    per_second: int | None
    per_ten: int | None
    accepted: int = 0
    limited: int = 0
    max_in_second: int = 0  # most accepted requests seen in any 1 s window
    max_in_ten: int = 0  # most accepted requests seen in any 10 s window
    _times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> float | None:
        """Count the request and return None, or the seconds to wait if it is over."""
        times = self._times
        while times and times[0] <= now - 10.0:
            times.popleft()
        in_ten = len(times)
        in_second = in_ten - _first_after(times, now - 1.0)
        wait = 0.0
        if self.per_second is not None and in_second >= self.per_second:
            wait = max(wait, times[in_ten - self.per_second] + 1.0 - now)
        if self.per_ten is not None and in_ten >= self.per_ten:
            wait = max(wait, times[in_ten - self.per_ten] + 10.0 - now)
        if wait > 0:
            self.limited += 1
            return wait
        times.append(now)
        self.accepted += 1
        self.max_in_second = max(self.max_in_second, in_second + 1)
        self.max_in_ten = max(self.max_in_ten, in_ten + 1)
        return None

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON."""
        return {
            "per_second": self.per_second,
            "per_ten": self.per_ten,
            "accepted": self.accepted,
            "limited": self.limited,
            "max_in_second": self.max_in_second,
            "max_in_ten": self.max_in_ten,
        }


def _first_after(times: deque[float], cutoff: float) -> int:
    """Index of the first time > cutoff (times are sorted; scanned from the end)."""
    index = len(times)
    while index > 0 and times[index - 1] > cutoff:
        index -= 1
    return index


class RateLimits:
    """Submit and query windows for a tier (None: nothing enforced, only counted)."""

    def __init__(
        self,
        tier: str | None,
        *,
        submit_per_second: float = 0,
        query_per_second: float = 0,
    ) -> None:
        rates = TIER_RATES.get(tier or "", {})
        self.tier = tier
        self.windows: dict[str, Window] = {}
        for kind, override in (("submit", submit_per_second), ("query", query_per_second)):
            second, ten = rates.get(kind, (None, None))
            if override:
                second, ten = math.floor(override), math.floor(override * 10)
            self.windows[kind] = Window(second, ten)

    def admit(self, kind: str, now: float | None = None) -> float | None:
        """None if the request may go through, else the seconds to wait."""
        window = self.windows.get(kind)
        if window is None:
            return None
        return window.admit(time.monotonic() if now is None else now)

    def headers(self, kind: str, wait: float) -> dict[str, str]:
        """The headers of a 429 for `kind`."""
        window = self.windows[kind]
        retry = max(1, math.ceil(wait))
        return {
            "Retry-After": str(retry),
            "X-RateLimit-Limit": str(window.per_second or 0),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(time.time() + wait)),
            "X-RateLimit-Category": CATEGORIES[kind],
        }

    def to_dict(self) -> dict[str, Any]:
        """Every counter as JSON (`GET /_sim/limits`)."""
        return {"tier": self.tier, **{k: w.to_dict() for k, w in self.windows.items()}}
