"""A job the process died sending (UNKNOWN), settled without asking the member where the
service can say what became of it.

A Seedance video request carries our own `client_business_id`, stored with the job before
it was sent: the task is looked up by it, followed if it exists, and sent again if the
service never got it. A binding records each step before the next, so it is simply sent
again and goes on from there. Sora and Vidu requests stay UNKNOWN ("shall I send it
again?"): the service has no way to say whether it got them.
"""

from __future__ import annotations

import logging

from bot.domain.records import Job, JobState
from bot.jobs.binding import is_bind_request
from bot.jobs.submission import STATE_OF
from bot.providers.base import ProviderError, TaskNotFoundError
from bot.providers.interface import CharacterProvider
from storage import JobRepository

log = logging.getLogger(__name__)


async def find_unknown(provider: CharacterProvider, jobs: JobRepository, job: Job) -> Job:
    """The job settled where it can be (WAITING to send again, or running with its
    task found); else the job as it is."""
    if is_bind_request(job.request):
        log.info("job %d: binding interrupted; it goes on from its last step", job.id)
        return await jobs.resume_unknown(job.id) or job
    business_id = job.request.get("client_business_id")
    if not isinstance(business_id, str) or not business_id:
        return job
    try:
        task = await provider.find_video_task(business_id)
    except TaskNotFoundError:
        log.info("job %d: the service never got it; it is sent again", job.id)
        return await jobs.resume_unknown(job.id) or job
    except ProviderError as exc:
        log.warning("job %d: could not look its task up (%s)", job.id, exc.detail or exc)
        return job
    log.info("job %d: its task %s was found by its business id", job.id, task.id)
    state = JobState.IN_PROGRESS if task.status.is_final else STATE_OF[task.status]
    return await jobs.resume_unknown(job.id, task_id=task.id, state=state) or job
