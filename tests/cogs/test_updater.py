"""Progress edits: only visible changes, at most one per interval, newest state wins."""

from __future__ import annotations

import asyncio

import discord

from cogs.character._updater import MessageUpdater
from cogs.shared.render import Rendered


def state(text: str) -> Rendered:
    return Rendered(embeds=[discord.Embed(description=text)])


async def test_states_pushed_while_waiting_collapse_to_the_newest():
    sent: list[str] = []

    async def edit(rendered: Rendered) -> None:
        sent.append(str(rendered.embeds[0].description))

    updater = MessageUpdater(edit, min_interval=0.2)
    updater.push(state("10%"))
    await asyncio.sleep(0.05)
    for percent in ("20%", "30%", "40%"):
        updater.push(state(percent))
    await asyncio.sleep(0.4)
    assert sent == ["10%", "40%"]  # no backlog of stale edits


async def test_unchanged_state_is_not_sent_again():
    sent: list[Rendered] = []

    async def edit(rendered: Rendered) -> None:
        sent.append(rendered)

    updater = MessageUpdater(edit, min_interval=0)
    updater.push(state("queued"))
    await asyncio.sleep(0.05)
    updater.push(state("queued"))
    await asyncio.sleep(0.05)
    assert len(sent) == 1


async def test_final_state_drops_pending_progress_and_goes_out_at_once():
    sent: list[str] = []

    async def edit(rendered: Rendered) -> None:
        sent.append(str(rendered.embeds[0].description))

    updater = MessageUpdater(edit, min_interval=10)
    updater.push(state("10%"))
    await asyncio.sleep(0.05)
    updater.push(state("50%"))  # would wait 10 s
    await updater.send_now(state("card"))
    await asyncio.sleep(0.05)
    assert sent == ["10%", "card"]
