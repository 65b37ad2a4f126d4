"""`GET /v1/user/balance` and `GET /v1/balance` of the simulator (docs/engines.md, section 6)."""

from __future__ import annotations

from typing import Any

from bot.simulator.scenario import Scenario

CREDITS_PER_USD = 200


def balance_answer(scenario: Scenario, tasks_created: int) -> dict[str, Any]:
    """The balance: the scenario's credit less what created tasks spent (none when out of
    credit)."""
    used = tasks_created * scenario.credits_per_task
    remain = 0.0 if scenario.out_of_credit else max(0.0, scenario.credits - used)
    return {
        "success": True,
        "remain_balance": round(remain / CREDITS_PER_USD, 4),
        "used_balance": round(used / CREDITS_PER_USD, 4),
        "remain_credits": remain,
        "used_credits": used,
        "unlimited_quota": scenario.unlimited_quota,
    }
