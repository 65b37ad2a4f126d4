"""Verified webhook events: stored first, applied in the background, marked handled once
applied. toapis gets its answer as soon as an event is stored; an event whose apply
failed is tried again a few times, then on its next delivery or at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from bot import metrics
from bot.domain.records import Job
from bot.http.webhooks import WebhookEvent
from bot.providers.base import Task
from bot.stopping import cancel_and_wait

if TYPE_CHECKING:
    from bot.jobs.tracker import JobTracker
    from storage.webhooks import StoredEvent, WebhookEventRepository

log = logging.getLogger(__name__)

APPLYING_AT_ONCE = 8  # applies running together; more wait their turn
RETRY_DELAYS = (1.0, 10.0, 60.0)  # seconds before each new attempt after a failed apply

Answer = Literal["accepted", "duplicate", "ignored"]


class WebhookInbox:
    """Stores events, applies them in tracked background tasks, bounded in number."""

    def __init__(self, events: WebhookEventRepository, tracker: JobTracker) -> None:
        self.events = events
        self.tracker = tracker
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self._slots = asyncio.Semaphore(APPLYING_AT_ONCE)
        self._applying: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    async def receive(self, event: WebhookEvent) -> Answer:
        """Store `event` and start applying it unless it was handled (or is being
        applied) already. Returns once it is stored; raises when it could not be."""
        task = event.task
        said = task.model_dump_json() if task else None
        receipt = await self.events.receive(event.id, event.type, task.id if task else None, said)
        if receipt == "handled" or event.id in self._applying:
            metrics.WEBHOOK_EVENTS.labels("duplicate").inc()
            return "duplicate"
        if task is None:
            await self.events.handled(event.id)
            metrics.WEBHOOK_EVENTS.labels("ignored").inc()
            return "ignored"
        self._start(event.id, event.type, task)
        return "accepted"

    async def resume(self) -> int:
        """Apply again every event stored but not handled (at start-up); how many."""
        try:
            pending = await self.events.unhandled()
            for stored in pending:
                task = _task_of(stored)
                if task is None:
                    await self.events.handled(stored.event_id)  # nothing to apply
                else:
                    self._start(stored.event_id, stored.type, task)
        except Exception:  # polling finds the outcomes; the next start tries again
            log.exception("webhook events stored but not handled could not be resumed")
            return 0
        if pending:
            log.info("applying %d webhook event(s) stored but not handled", len(pending))
        return len(pending)

    async def drain(self) -> None:
        """Wait until no event is being applied (tests)."""
        while self._applying:
            await asyncio.wait(list(self._applying.values()))

    async def close(self) -> None:
        """Stop applying: events not handled yet are applied at the next start."""
        self._closed = True
        running = list(self._applying.values())
        for task in running:
            task.cancel()
        for task in running:
            await cancel_and_wait(task)

    def _start(self, event_id: str, kind: str, task: Task) -> None:
        if self._closed or event_id in self._applying:
            return
        applying = asyncio.create_task(self._apply(event_id, kind, task), name="webhook-event")
        self._applying[event_id] = applying
        applying.add_done_callback(lambda _: self._applying.pop(event_id, None))

    async def _apply(self, event_id: str, kind: str, task: Task) -> None:
        """Apply until it works or the retries are spent (then it waits, stored)."""
        for delay in (*self.retry_delays, None):
            try:
                async with self._slots:
                    job = await self.tracker.apply_event(task)
                    await self.events.handled(event_id)
            except Exception:
                self.tracker.event_not_applied()
                if delay is None:
                    log.exception(
                        "webhook event %s: applying failed; it is applied again at the next "
                        "start or delivery (polling finds the outcome meanwhile)",
                        event_id,
                    )
                    metrics.WEBHOOK_EVENTS.labels("failed").inc()
                    return
                log.warning(
                    "webhook event %s: applying failed; trying again in %gs",
                    event_id,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)
                continue
            _report(event_id, kind, task, job)
            return


def _task_of(stored: StoredEvent) -> Task | None:
    if stored.task is None:
        return None
    try:
        return Task.model_validate_json(stored.task)
    except ValidationError:
        log.warning("webhook event %s: stored task unreadable; dropped", stored.event_id)
        return None


def _report(event_id: str, kind: str, task: Task, job: Job | None) -> None:
    if job is None:
        metrics.WEBHOOK_EVENTS.labels("unknown_task").inc()
        log.info("webhook event %s for unknown task %s", event_id, task.id)
        return
    metrics.WEBHOOK_EVENTS.labels("applied").inc()
    log.info(
        "job %d: webhook %s applied",
        job.id,
        kind,
        extra={"job_id": job.id, "guild_id": job.guild_id, "task_id": task.id, "event": kind},
    )
