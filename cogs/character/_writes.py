"""One budget for every Discord write about jobs: cards and failures before progress.

discord.py waits out Discord's own 429s per route, but a thousand jobs editing their
replies would still queue up behind them and crowd out the cards. So every edit and post
the job listener makes takes a slot of one sliding-window budget
(`DISCORD_WRITES_PER_SECOND`, well under Discord's 50/s), final states first; progress
edits are coalesced per message while they wait, so the newest state is the one sent.
"""

from __future__ import annotations

from bot import metrics
from bot.net.rate_budget import Budget, Rate, SharedLedger


class DiscordWrites:
    """The write budget shared by the job listener and the create flow (and by every
    process of the bot when `ledger` is given: they all write with one token)."""

    def __init__(self, per_second: float = 25.0, ledger: SharedLedger | None = None) -> None:
        self.budget = Budget("discord", Rate(per_second, per_second * 10), ledger=ledger)

    async def wait(self, urgent: bool) -> None:
        """Wait for a write slot (urgent: a card or a failure goes before progress)."""
        await self.budget.take(urgent=urgent)
        metrics.DISCORD_WRITES.labels("card_or_failure" if urgent else "progress").inc()

    @property
    def granted(self) -> int:
        """Writes granted so far."""
        return self.budget.granted
