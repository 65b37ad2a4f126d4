"""Preparing again a job whose media work died with its process (a crash, or a process of
several on PostgreSQL killed): the source is fetched again from what the job stored.

Only sources that can be fetched again are taken over (a link, a page, an earlier task:
`JobRepository.adopt_preparing`); a Discord attachment's signed link is not stored, so
those jobs end with a plain reason instead (`INTERRUPTED_PREPARING`). A source that
cannot be prepared now ends the job with the reason; nothing was sent, nothing charged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.domain.ranges import ClipRange
from bot.domain.records import Job, JobState, SourceKind
from bot.i18n import N_
from bot.i18n.text import Text
from bot.jobs.sources import prepared_request, source_meta
from bot.jobs.submission import Sendable
from bot.jobs.submit_line import SubmitLine
from bot.media.errors import MediaError
from bot.media.intake import MediaIntake
from bot.media.orders import CreateOrder, OrderError, resolve
from bot.providers.base import CharacterRequest, ProviderError
from storage import JobRepository

log = logging.getLogger(__name__)

# The request and meta to send, or the reason (shown to the member) it cannot be.
Outcome = tuple[Sendable, dict[str, Any]] | Text | str
Preparer = Callable[[Job], Awaitable[Outcome]]

# storage's INTERRUPTED_PREPARING, marked here for the catalogues: storage keeps it in a
# job's meta by this msgid.
INTERRUPTED = N_(
    "The bot restarted while it was preparing your video; nothing was sent to toapis "
    "and nothing was charged. Please run the command again."
)
NOT_PREPARED = N_(
    "The bot restarted while it was preparing your video and could not prepare it again: "
    "{reason} Nothing was sent to toapis and nothing was charged."
)


def order_of(job: Job) -> CreateOrder:
    """The order a job was opened with, rebuilt from its stored source and range."""
    kind = job.source_kind
    link = job.source_ref if kind in (SourceKind.URL, SourceKind.PAGE) else None
    task = job.source_ref if kind is SourceKind.TASK else None
    clip = ClipRange(job.range_start, job.range_end)
    return CreateOrder(kind, job.source_ref, clip, job.model, url=link, from_task=task)


class PrepareAgain:
    """Prepares a job again; the tracker then sends it in its turn."""

    def __init__(self, intake: MediaIntake, *, allow_private: bool) -> None:
        self.intake = intake
        self.allow_private = allow_private

    async def __call__(self, job: Job) -> tuple[CharacterRequest, dict[str, Any]] | Text:
        """The request and meta to send, or the reason (for the member) it cannot be."""
        order = order_of(job)
        try:
            order = await resolve(order, allow_private=self.allow_private)
            prepared = await self.intake.prepare(order)
        except (OrderError, MediaError) as exc:
            return Text(NOT_PREPARED, reason=_reason(exc.text))
        except ProviderError as exc:
            return Text(NOT_PREPARED, reason=_reason(exc.user_text))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("job %d: preparing its video again failed", job.id)
            return Text(NOT_PREPARED, reason=Text("something went wrong on the bot's side."))
        return prepared_request(order, prepared), {**job.meta, **source_meta(order, prepared)}


async def store_outcome(job: Job, outcome: Outcome, jobs: JobRepository) -> Job | None:
    """Store what came of preparing a job again: WAITING with its request (the tracker
    sends it in its turn), or FAILED with the reason (announced). If it was no longer
    preparing, the job as stored (None if it is gone)."""
    if isinstance(outcome, (Text, str)):
        settled = await jobs.fail_preparing(job.id, outcome)
    else:
        request, meta = outcome
        dumped = request.model_dump(exclude_none=True)
        settled = await jobs.set_prepared(job.id, dumped, meta)
    return settled if settled is not None else await jobs.get(job.id)


async def prepare_again(
    job: Job, preparer: Preparer, jobs: JobRepository, line: SubmitLine, owner: str
) -> Job | None:
    """Prepare an adopted job again while it keeps its place in `line`; the job as stored
    after (None if it is gone). If storing fails, `owner` lets go of it, so that a later
    sweep adopts it again."""
    line.add(job, ready=False)  # keeps its place while its video is prepared
    try:
        settled = await store_outcome(job, await preparer(job), jobs)
    except Exception:  # still preparing
        line.leave(job.id)
        with contextlib.suppress(Exception):
            await jobs.release(owner, job.id)
        raise
    if settled is None or settled.state is not JobState.WAITING:
        line.leave(job.id)
    return settled


def _reason(text: Text) -> Text | str:
    """A reason as a sentence: its msgid form when it is one already, else the English."""
    said = str(text)
    return text if said and said == _sentence(said) else _sentence(said)


def _sentence(text: str) -> str:
    text = text.strip() or "the video could not be read."
    return text if text.endswith((".", "!", "?")) else text + "."
