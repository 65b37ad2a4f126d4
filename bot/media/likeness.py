"""The bot's own likeness of a character: the cut clip and three stills of its range.

The stills are picked from the frames the cut decodes anyway (a `FrameTap` of
`cut_window`): no second read or decode of the source. Candidates are taken a few times a
second inside the chosen range and scored with the moment analysis's frame features
(`bot.media.scoring.frame_features`: the largest face's size, sharpness, light). Where
faces are seen, the three stills come from the frames with a face; where none is, the
sharpest, best lit frames, kept apart from one another (never three neighbours). Only the
three picked frames are turned into JPEGs, at most 1920 px on the long side. Blocking:
run on the media workers like the cut.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2

from bot.media.cut import Cut, cut_window, fit_size
from bot.media.scoring import FULL_FACE_SHARE, FrameFeatures, frame_features

STILLS = 3
CANDIDATES_PER_SECOND = 4.0
SCORE_HEIGHT = 360  # candidates are scored on a grey copy this tall, as in the analysis
JPEG_QUALITY = 90
_EPSILON = 1e-3


@dataclass(frozen=True, slots=True)
class Still:
    """One still: `at` seconds into the source, as a JPEG."""

    at: float
    jpeg: bytes


@dataclass(frozen=True, slots=True)
class Likeness:
    """The clip (with its sound) and the stills of its range, earliest first."""

    cut: Cut
    stills: list[Still]

    @property
    def clip_path(self) -> Path:
        """Where the clip was written."""
        return self.cut.path


@dataclass(frozen=True, slots=True)
class _Candidate:
    at: float
    features: FrameFeatures
    frame: Any  # the decoded PyAV frame, kept until the pick


class StillPicker:
    """A frame tap for the cut: scores frames of [start, end], then picks the stills."""

    def __init__(
        self,
        start: float,
        end: float,
        *,
        count: int = STILLS,
        per_second: float = CANDIDATES_PER_SECOND,
    ) -> None:
        self.start, self.end, self.count = start, end, count
        self._step = 1.0 / per_second
        self._next = start
        self._candidates: list[_Candidate] = []

    def take(self, frame: Any) -> None:
        """Score the first frame at or after each candidate mark of the range."""
        at = frame.time
        if at is None or at < self._next - _EPSILON or at > self.end + _EPSILON:
            return
        while self._next <= at + _EPSILON:
            self._next += self._step
        width = max(2, round(frame.width * SCORE_HEIGHT / max(1, frame.height) / 2) * 2)
        grey = frame.to_ndarray(format="gray", width=width, height=SCORE_HEIGHT)
        features, _hist = frame_features(grey, None)
        self._candidates.append(_Candidate(float(at), features, frame))

    def pick(self) -> list[Still]:
        """The stills, earliest first (fewer only when the range had fewer frames)."""
        chosen = choose(self._candidates, self.count)
        self._candidates = []  # let the decoded frames go
        return [Still(round(c.at, 3), frame_jpeg(c.frame)) for c in chosen]


def still_score(features: FrameFeatures, top_sharpness: float) -> float:
    """Higher is better: a large face first, then sharpness (relative), then light."""
    face = 2.0 * min(1.0, features.face_share / FULL_FACE_SHARE) if features.faces else 0.0
    sharp = features.sharpness / top_sharpness if top_sharpness > 0 else 0.0
    light = max(0.0, 1.0 - abs(features.brightness - 128.0) / 128.0)
    return face + sharp + 0.5 * light


def choose(candidates: list[_Candidate], count: int) -> list[_Candidate]:
    """The best `count` candidates, at least a quarter of their span apart where possible.

    Frames with a face are the pool when there are enough of them; otherwise all frames.
    """
    if not candidates:
        return []
    with_face = [c for c in candidates if c.features.faces]
    pool = with_face if len(with_face) >= count else candidates
    top = max(c.features.sharpness for c in pool)
    ranked = sorted(pool, key=lambda c: (-still_score(c.features, top), c.at))
    gap = (max(c.at for c in pool) - min(c.at for c in pool)) / (count + 1)
    chosen: list[_Candidate] = []
    for candidate in ranked:
        if all(abs(candidate.at - other.at) >= gap - _EPSILON for other in chosen):
            chosen.append(candidate)
            if len(chosen) == count:
                break
    for candidate in ranked:  # too few far enough apart: the next best
        if len(chosen) == count:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    return sorted(chosen, key=lambda c: c.at)


def frame_jpeg(frame: Any) -> bytes:
    """A decoded frame as a JPEG, at most 1920 px on the long side."""
    width, height = fit_size(frame.width, frame.height)
    bgr = frame.to_ndarray(format="bgr24", width=width, height=height)
    return bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1])


def cut_likeness(
    source: Any,
    dest: Path,
    begin: float,
    finish: float,
    *,
    stills_from: tuple[float, float] | None = None,
    cancel: threading.Event,
) -> Likeness:
    """Cut [begin, finish] of `source` to `dest` and pick the stills in the same pass.

    `stills_from` is the chosen range (the clip may run a margin beyond it); by default
    the whole window.
    """
    start, end = stills_from if stills_from is not None else (begin, finish)
    picker = StillPicker(max(start, begin), min(end, finish))
    cut = cut_window(source, dest, begin, finish, cancel=cancel, tap=picker)
    return Likeness(cut, picker.pick())


def pick_stills(path: Path, start: float, end: float) -> list[Still]:
    """The stills of [start, end] of a local video file (a downloaded section that is not
    cut again): one decode of that range. Blocking."""
    picker = StillPicker(start, end)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        if video.time_base is not None:
            container.seek(max(0, int(start / video.time_base)), stream=video, backward=True)
        for frame in container.decode(video):
            if frame.time is not None and frame.time > end + _EPSILON:
                break
            picker.take(frame)
    return picker.pick()
