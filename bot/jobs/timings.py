"""How often and how long the tracker polls, retries and announces (one place for knobs)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackerTimings:
    """How often and how long jobs are polled."""

    poll_interval: float = 5.0
    timeout: float = 300.0
    slow_poll_interval: float = 60.0
    max_age: float = 24 * 3600.0
    not_found_grace: float = 600.0
    max_error_backoff: float = 60.0
    submit_retry: float = 15.0  # first wait after a 429/503 at submit (doubles, capped)
    submit_give_up: float = 1800.0  # stop re-sending a refused create request after this
    announce_attempts: int = 6  # tries to show a card or failure before leaving it to the sweeper
    sweep_interval: float = 30.0  # how often the sweeper looks for jobs left without a task
    sweep_retry: float = 30.0  # first wait before re-following a job whose task crashed
    sweep_max_backoff: float = 900.0  # the longest wait between two such tries
    lease: float = 30.0  # a job's owner holds it this long, renewed every third of it
    stop_grace: float = 7.0  # a shutdown waits this long for create requests in flight
    expected_duration: float = 60.0  # first guess of submission-to-completion (then learned)
    line_notice_interval: float = 3.0  # places in line are recomputed at most this often
    hold_retry: float = 180.0  # first wait before trying again an account toapis refused
    hold_max: float = 900.0  # the longest such wait
    credit_check: float = 30.0  # while held on a 402, the balance is read this often
    # Video jobs take minutes: first poll after about 5 s, then about every 10 s, and
    # "still running" after 10 minutes (toapis.md section 7).
    video_first_poll: float = 5.0
    video_poll_interval: float = 10.0
    video_timeout: float = 600.0


def submit_backoff(timings: TrackerTimings, attempt: int) -> float:
    """The wait before re-sending a refused create request (attempt 0 is the first wait)."""
    delay = min(timings.max_error_backoff * 5, timings.submit_retry * 2 ** min(attempt, 10))
    return float(delay * random.uniform(0.8, 1.2))


def poll_wait(timings: TrackerTimings, *, stalled: bool, errors: int) -> float:
    """The wait before the next status query."""
    interval = timings.slow_poll_interval if stalled else timings.poll_interval
    if errors:
        interval = min(timings.max_error_backoff, interval * 2 ** min(errors, 6))
    return float(interval * random.uniform(0.8, 1.2))


def video_poll_wait(timings: TrackerTimings, *, polls: int, stalled: bool, errors: int) -> float:
    """The wait before a video job's next status query."""
    if errors:
        wait = min(timings.max_error_backoff, timings.video_poll_interval * 2 ** min(errors, 6))
    elif stalled:
        wait = timings.slow_poll_interval
    elif polls == 0:
        wait = timings.video_first_poll
    else:
        wait = timings.video_poll_interval
    return float(wait * random.uniform(0.9, 1.1))


def announce_backoff(timings: TrackerTimings, attempt: int) -> float:
    """The wait after the `attempt`-th failed announcement (1-based)."""
    return float(min(timings.max_error_backoff, timings.poll_interval * 2**attempt))
