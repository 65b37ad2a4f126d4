"""Media worker pools: bounded, first come first served, and each waiter told its place."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.media.workers import WorkerPool


async def line_of(pool: WorkerPool, length: int) -> None:
    """Wait until `length` callers wait in the pool's line."""
    for _ in range(500):
        if pool.waiting >= length:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the line never reached {length}")


async def test_waiters_are_told_their_place_and_served_in_order() -> None:
    pool = WorkerPool(1, "test-media")
    gate = threading.Event()
    heard: dict[str, list[int | None]] = {"b": [], "c": []}
    order: list[str] = []

    def work(name: str) -> str:
        if name == "a":
            gate.wait(5)
        order.append(name)
        return threading.current_thread().name

    first = asyncio.create_task(pool.run(lambda: work("a")))
    await asyncio.sleep(0)
    second = asyncio.create_task(pool.run(lambda: work("b"), watcher=heard["b"].append))
    third = asyncio.create_task(pool.run(lambda: work("c"), watcher=heard["c"].append))
    await line_of(pool, 2)
    assert (pool.busy, pool.waiting) == (1, 2)
    gate.set()
    names = await asyncio.gather(first, second, third)

    assert order == ["a", "b", "c"]
    assert all(name.startswith("test-media") for name in names)  # never the default pool
    assert heard["b"] == [0, None]
    assert heard["c"] == [1, 0, None]
    assert (pool.busy, pool.waiting) == (0, 0)
    pool.shutdown()


async def test_a_waiter_that_gives_up_leaves_the_line() -> None:
    pool = WorkerPool(1, "test-media")
    gate = threading.Event()
    heard: list[int | None] = []
    running = asyncio.create_task(pool.run(lambda: gate.wait(5)))
    await asyncio.sleep(0)
    quitter = asyncio.create_task(pool.run(lambda: "never"))
    patient = asyncio.create_task(pool.run(lambda: "served", watcher=heard.append))
    await line_of(pool, 2)
    quitter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await quitter
    gate.set()
    await running
    assert await patient == "served"
    assert heard == [1, 0, None]
    assert (pool.busy, pool.waiting) == (0, 0)
    pool.shutdown()


async def test_a_failing_watcher_does_not_cost_the_place() -> None:
    pool = WorkerPool(1, "test-media")
    gate = threading.Event()

    def broken(ahead: int | None) -> None:
        raise RuntimeError("Discord is down")

    running = asyncio.create_task(pool.run(lambda: gate.wait(5)))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(pool.run(lambda: 42, watcher=broken))
    await line_of(pool, 1)
    gate.set()
    await running
    assert await waiting == 42
    pool.shutdown()
