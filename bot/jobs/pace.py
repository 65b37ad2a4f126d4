"""When to ask toapis about a task: each model's pace, learned from the tasks seen.

A waiting task changes nothing anyone sees, so it is asked as rarely as will still catch
what matters: its start (which anchors its end) and its end (the card). Each model's tasks
are timed (`Pace`: how long they usually wait in toapis' line and run, and how far one
strays from that), and a running task is asked sparsely until the window its end usually
falls in, then densely through that window (`next_poll`).
"""

from __future__ import annotations

import random
from collections import deque

from bot.domain.records import JobState
from bot.jobs.timings import TrackerTimings

# Tasks seen queued are remembered this long, in buckets (seconds): longer than the
# slowest poll of a queued task, so the oldest is seen again before it is forgotten.
FLOOR_WINDOW = 60.0
FLOOR_BUCKET = 10.0
DENSE = 0.4  # around a task's expected end it is asked every this many poll intervals
WIDTH = 2.0  # the dense window reaches this many typical deviations either side
FIRST_SPREAD = 0.25  # before two tasks are seen, a time strays this fraction of itself


class Estimate:
    """A running mean of one duration and the mean distance of one from it.

    The first observations count fully (a running mean), later ones as a moving average,
    so a fresh process stops trusting its first guess after one task; the deviation
    starts as a guess counted as one observation.
    """

    def __init__(self, guess: float) -> None:
        self.mean = guess
        self.deviation = guess * FIRST_SPREAD
        self.seen = 0

    def add(self, value: float) -> None:
        """One more observation."""
        value = max(0.0, value)
        self.seen += 1
        if self.seen > 1:
            self.deviation += _weight(self.seen) * (abs(value - self.mean) - self.deviation)
        self.mean += _weight(self.seen) * (value - self.mean)


class Pace:
    """How long one model's tasks usually wait and run (for poll timing)."""

    def __init__(self, timings: TrackerTimings) -> None:
        self.queue = Estimate(timings.poll_interval)  # submission to first seen running
        self.run = Estimate(max(0.0, timings.expected_duration - timings.poll_interval))

    @property
    def queue_time(self) -> float:
        """From submission until first seen running, usually."""
        return self.queue.mean

    @property
    def run_time(self) -> float:
        """From first seen running until seen completed, usually."""
        return self.run.mean

    @property
    def duration(self) -> float:
        """From submission to completion, usually."""
        return self.queue.mean + self.run.mean

    def end(self, started: float | None) -> tuple[float, float]:
        """When a task usually ends (age since submission) and how far either side the
        end of one usually strays: from its start, if it was seen starting."""
        if started is not None:
            return started + self.run.mean, self.run.deviation
        return self.duration, self.queue.deviation + self.run.deviation

    def started(self, age: float) -> None:
        """A task started in progress `age` seconds after submission (about)."""
        self.queue.add(age)

    def finished(self, age: float, started: float | None = None) -> None:
        """A task was seen completed `age` seconds after submission (started at
        `started`, about, if it was seen running)."""
        self.run.add(age - (started if started is not None else self.queue.mean))


class Paces:
    """Each model's pace, and toapis' line (shared by every model)."""

    def __init__(self, timings: TrackerTimings) -> None:
        self._timings = timings
        self._models: dict[str, Pace] = {}
        # (bucket start, longest wait of a task answering "queued" in it), newest last
        self._queued: deque[tuple[float, float]] = deque()

    def of(self, model: str) -> Pace:
        """The pace of `model`'s tasks (first guesses until one is seen)."""
        pace = self._models.get(model)
        if pace is None:
            pace = self._models[model] = Pace(self._timings)
        return pace

    def still_queued(self, age: float, now: float) -> None:
        """A task answered "queued" at `now` (tracker clock), `age` seconds after it was sent."""
        bucket = now - now % FLOOR_BUCKET
        if self._queued and self._queued[-1][0] == bucket:
            self._queued[-1] = (bucket, max(self._queued[-1][1], age))
        else:
            self._queued.append((bucket, age))
        while self._queued[0][0] <= now - FLOOR_WINDOW:
            self._queued.popleft()

    def oldest_queued(self, now: float) -> float:
        """The longest any task answering "queued" lately (`FLOOR_WINDOW`) had waited: a
        task sent after it will usually not start before it has waited as long (0 if none).
        What each was seen at, not how long it would have waited by now: it may have
        started since."""
        since = now - FLOOR_WINDOW
        return max((age for bucket, age in self._queued if bucket > since), default=0.0)


def _weight(seen: int) -> float:
    return max(0.2, 1.0 / seen)


def next_poll(
    timings: TrackerTimings,
    pace: Pace,
    *,
    state: JobState,
    age: float,
    polls: int,
    stalled: bool,
    errors: int,
    started: float | None = None,
    started_within: float = 0.0,
    oldest: float = 0.0,
) -> float:
    """The wait before a job's next status query.

    Queued: the first query (and the next, at most `12 * poll_interval` later) when tasks
    of the model usually start, then less and less often the longer it stays queued
    (while no task of the model was seen starting, each wait as long as it has waited so
    far). Behind an older task seen queued lately (`oldest`: how long it had waited then),
    it is asked when it will have waited as long, at most `12 * poll_interval` later:
    toapis usually starts tasks in the order they came, so the oldest ones tell when the
    line moves. Running: not again until the window its end
    usually falls in (its usual end, counted from when it started, `started` give or take
    `started_within`, less `WIDTH` typical deviations; at most `6 * poll_interval` apart),
    then every `DENSE * poll_interval` through that window (every `poll_interval` while no
    task of the model was seen ending: the window is a guess); past it, slowly further
    apart. Slow for a stuck task; backing off after errors.
    """
    base = timings.poll_interval
    longest = base * 6  # however long tasks usually take, never ask less often than this
    dense = base * DENSE
    if errors:
        wait = min(timings.max_error_backoff, base * 2 ** min(errors, 6))
    elif stalled:
        wait = timings.slow_poll_interval
    elif polls == 0:
        wait = min(longest, max(base * 0.5, pace.queue_time - age))
    elif state is JobState.QUEUED:
        left = pace.queue_time - age
        behind = oldest - age  # an older task still waits that much longer than this one
        if behind > base * 2:
            wait = min(longest * 2, max(base * 2, left, behind))
        elif left > 0:  # straight to when tasks of the model usually start
            wait = min(longest * 2, max(base * 2, left))
        elif pace.queue.seen:  # queued longer than usual: it may start any time; ask
            # less and less often
            wait = min(max(base * 2, -left / 2), max(base * 2, min(longest, pace.run_time / 2)))
        else:  # no task of the model seen starting yet: twice its age each time
            wait = min(longest, max(base * 2, age))
    else:
        end, deviation = pace.end(started)
        reach = max(dense, WIDTH * deviation)
        if started is not None and pace.run.seen:  # (a guess is wide enough as it is)
            reach += started_within
        opens, closes = end - reach, end + reach
        if age < opens - dense:  # sparse: straight to the window
            wait = min(longest, opens - age)
        elif age <= closes:  # before this model's first end, its usual end is a guess
            wait = dense if pace.run.seen else base
        else:  # running longer than usual: closer at first, then further apart
            wait = min(base * 2, max(dense, (age - closes) / 4))
    return float(wait * random.uniform(0.9, 1.1))
