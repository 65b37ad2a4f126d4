"""Faults at a rate: each API request rolls a die per kind of fault (soak tests).

`Scenario.fault_rates` maps a kind to a probability (0 to 1):

- `query_500`: a status read answers 500;
- `submit_503`: a create request answers 503 `rate_limit_unavailable` with Retry-After;
- `rate_limited`: a create or status read answers 429 with Retry-After, beyond the tier's
  own windows (toapis throttling for reasons of its own);
- `slow`: the answer waits `Scenario.slow_seconds` (a range, drawn uniformly) first.

The dice come from one `random.Random`; seed it (`FaultDice.seed`) for a repeatable run.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping

FAULT_KINDS: tuple[str, ...] = ("query_500", "submit_503", "rate_limited", "slow")


class FaultDice:
    """Rolls the scenario's fault rates and counts what it injected."""

    def __init__(self) -> None:
        self.random = random.Random()  # faults, not secrets
        self.injected: Counter[str] = Counter()

    def seed(self, seed: int | str) -> None:
        """Make the following rolls repeatable."""
        self.random.seed(seed)

    def roll(self, rates: Mapping[str, float], kind: str) -> bool:
        """True (and counted) when a fault of `kind` happens to this request."""
        rate = rates.get(kind, 0.0)
        if rate <= 0 or self.random.random() >= rate:
            return False
        self.injected[kind] += 1
        return True

    def delay(self, rates: Mapping[str, float], seconds: tuple[float, float]) -> float:
        """Seconds to hold this answer (0 when no `slow` fault is rolled)."""
        if not self.roll(rates, "slow"):
            return 0.0
        return self.random.uniform(*seconds)
