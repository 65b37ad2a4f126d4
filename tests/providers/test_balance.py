"""The account's balance: read through the client from the simulator over real sockets,
counted as a status query, spending nothing; tolerant of the shapes gateways answer."""

from __future__ import annotations

import math

import pytest

from bot.net.rate_budget import AccountBudgets, tier_limits
from bot.providers.account import Balance
from bot.providers.base import AuthenticationError, ServiceUnavailableError
from bot.providers.toapis import ToapisClient


@pytest.fixture
async def client(simulator):
    budgets = AccountBudgets.create(tier_limits("default"))
    client = ToapisClient(simulator.base_url, "sim-key", budgets=budgets, max_attempts=2)
    yield client
    await client.aclose()


async def test_the_balance_shows_the_credit_and_counts_as_a_query(client, simulator):
    simulator.scenario.update(credits=1234.0)
    balance = await client.get_balance()
    assert balance.credit_text() == "1,234 credits (about $6.17)"
    assert balance.has_credit and balance.used_credits == 0
    assert [(r.method, r.path) for r in simulator.requests] == [("GET", "/v1/user/balance")]
    assert client.budgets is not None
    assert (client.budgets.query.granted, client.budgets.submit.granted) == (1, 0)
    assert simulator.submits == 0


async def test_an_empty_account_and_an_unlimited_key(client, simulator):
    simulator.scenario.update(out_of_credit=True)
    empty = await client.get_balance()
    assert not empty.has_credit and empty.credit_text() == "0 credits (about $0.00)"
    simulator.scenario.update(out_of_credit=False, unlimited_quota=True)
    unlimited = await client.get_balance()
    assert unlimited.has_credit and unlimited.credit_text() == "unlimited"
    assert unlimited.credits == math.inf


async def test_a_refused_key_and_an_unreadable_balance_raise(client, simulator):
    simulator.scenario.update(malformed=2)
    with pytest.raises(ServiceUnavailableError):
        await client.get_balance()
    simulator.scenario.update(api_key="another-key")
    with pytest.raises(AuthenticationError):
        await client.get_balance()


def test_gateway_shapes_are_read():
    wrapped = Balance.model_validate(
        {"success": True, "data": {"remain_credits": "400", "unlimited_quota": None}}
    )
    assert wrapped.credit_text() == "400 credits (about $2.00)"
    dollars_only = Balance.model_validate({"success": True, "remain_balance": 6.17})
    assert dollars_only.credit_text() == "1,234 credits (about $6.17)"
    refused = Balance.model_validate({"success": False, "message": "no"})
    assert refused.success is False and not refused.has_credit
