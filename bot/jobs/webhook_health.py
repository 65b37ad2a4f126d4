"""Whether toapis' webhook events arrive: while they do, polls are rarer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.records import Job
from bot.providers.interface import CharacterProvider

log = logging.getLogger(__name__)

WEBHOOK_HEALTHY_FOR = 3600.0  # a verified event within this long means webhooks work


class WebhookHealth:
    """When the last verified event came, and when a task last ended without one."""

    def __init__(self, provider: CharacterProvider, clock: Callable[[], float]) -> None:
        self.provider = provider
        self._clock = clock
        self.seen_at: float | None = None  # the last verified webhook event
        self.missed_at: float | None = None  # a task ended with no event (polls found it)

    def event_seen(self) -> None:
        """A verified event arrived: webhooks work, polling can slow down."""
        self.seen_at = self._clock()

    def healthy(self) -> bool:
        """Events bring the outcomes, so polls can be rarer: a verified event arrived within
        the last hour and none went missing since, or, before the first event, the create
        requests carry a callback URL (toapis accepted it) and no task ended without its
        event within the last hour."""
        now = self._clock()
        seen, missed = self.seen_at, self.missed_at
        if seen is not None and now - seen < WEBHOOK_HEALTHY_FOR:
            return missed is None or seen >= missed
        if not getattr(self.provider, "callback_url", None):
            return False
        return missed is None or now - missed >= WEBHOOK_HEALTHY_FOR

    def ended_without_event(self, job: Job) -> None:
        """A status query found the task ended before its webhook event came: while
        events go missing, polls keep their usual pace (an event arriving brings it back)."""
        if not self.healthy():
            return
        self.missed_at = self._clock()
        log.warning(
            "job %d: toapis ended the task but its webhook event has not arrived; polling "
            "at the usual pace until events arrive (check TOAPIS_CALLBACK_URL reaches the bot)",
            job.id,
        )

    def event_not_applied(self) -> None:
        """A webhook event could not be applied: polls keep their usual pace until one is."""
        self.missed_at = self._clock()
