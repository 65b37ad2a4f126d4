"""The account's balance as toapis answers `GET /v1/user/balance` (docs/engines.md, section 6).

Reading it spends nothing. Every field is optional and read tolerantly (numbers may come as
strings, the object may be wrapped in `data`); `success: false` is the caller's to refuse.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

CREDITS_PER_USD = 200  # toapis: 1 USD = 200 credits

_FIELDS = ("remain_credits", "used_credits", "remain_balance", "used_balance", "unlimited_quota")


class Balance(BaseModel):
    """What is left on the account and what was used, in credits and in US dollars."""

    model_config = ConfigDict(extra="ignore")

    success: bool | None = None
    remain_credits: float | None = None
    used_credits: float | None = None
    remain_balance: float | None = None  # US dollars
    used_balance: float | None = None
    unlimited_quota: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        # Some gateways wrap the object in `data`, as they do task objects.
        if isinstance(value, dict) and not any(k in value for k in _FIELDS):
            inner = value.get("data")
            if isinstance(inner, dict):
                return {"success": value.get("success"), **inner}
        return value

    @property
    def credits(self) -> float:
        """Credits left (infinite when the quota is unlimited; from dollars if only those
        are given; 0 when neither is)."""
        if self.unlimited_quota:
            return math.inf
        if self.remain_credits is not None:
            return max(0.0, self.remain_credits)
        if self.remain_balance is not None:
            return max(0.0, self.remain_balance * CREDITS_PER_USD)
        return 0.0

    @property
    def has_credit(self) -> bool:
        """Whether a create request may be paid for."""
        return self.credits > 0

    def credit_text(self) -> str:
        """`1,234 credits (about $6.17)`, or `unlimited`."""
        if self.unlimited_quota:
            return "unlimited"
        credits = self.credits
        return f"{math.floor(credits):,} credits (about ${credits / CREDITS_PER_USD:,.2f})"
