"""Fixtures of the simulator tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from bot.simulator import Simulator
from tests.simulator.helpers import AUTH


@pytest_asyncio.fixture
async def client(simulator: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for the `simulator` fixture, with the right API key."""
    async with httpx.AsyncClient(base_url=simulator.base_url, headers=AUTH, timeout=15) as c:
        yield c
