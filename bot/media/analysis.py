"""Finding the best 1-3 s moment of a video: sample it, score it, draw contact sheets.

Blocking; runs on the bounded media pool. The container is read once, in order, and only
its first `max_seconds` (10 minutes): the video at `fps` (2) frames a second scaled to
`height` (360 px), the sound resampled to 16 kHz mono and reduced at once to a loudness
envelope. Only reference frames are decoded (the others are never sampled at 2 fps
anyway) and the loop filter is skipped: the picture is only looked at, never kept. Each
sample keeps its features and a small JPEG for the contact sheet, nothing else, so memory
stays flat whatever the length. `cancel` and the `deadline` (60 s) are checked at every
packet.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import av
import cv2
import numpy as np

from bot.domain.ranges import format_clock
from bot.i18n import N_
from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.scoring import (
    ENVELOPE_RATE,
    FrameFeatures,
    SoundTrack,
    Window,
    frame_features,
    rank_windows,
    score_range,
)

THUMB_HEIGHT = 180
SHEET_FRAMES = 4
AUDIO_RATE = 16000
TOO_SLOW = N_("The analysis took too long: pick a range yourself.")


@dataclass(frozen=True, slots=True)
class AnalysisLimits:
    """How much of a source is looked at, how closely, and for how long."""

    max_seconds: float = 600.0
    fps: float = 2.0
    height: int = 360
    time_limit: float = 60.0


class AnalysisCancelled(Exception):
    """The caller gave up (or the deadline passed) while the analysis ran."""


@dataclass
class Analysis:
    """What the analysis found: per-sample features, the sound, the ranked windows."""

    fps: float
    frames: list[FrameFeatures]
    sound: SoundTrack
    windows: list[Window]  # best first, non-overlapping, one face each; empty: no face
    thumbs: list[bytes] = field(repr=False)  # a JPEG per sample
    seconds: float = 0.0  # how much of the source was analysed

    def judge(self, start: float, end: float) -> Window:
        """The score of a range the member picked."""
        return score_range(self.frames, self.fps, self.sound, start, end)

    def sheet(self, window: Window) -> bytes:
        """A contact sheet: 4 frames of `window` in one JPEG, each with its time."""
        first = round(window.start * self.fps)
        last = max(first + 1, round(window.end * self.fps))
        picks = np.linspace(first, last - 1, SHEET_FRAMES).round().astype(int)
        tiles = []
        for index in picks:
            tile: Any = cv2.imdecode(np.frombuffer(self.thumbs[index], np.uint8), cv2.IMREAD_COLOR)
            text = format_clock(round(index / self.fps, 1))
            cv2.putText(tile, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3)
            cv2.putText(tile, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1)
            tiles.append(tile)
        sheet = np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        return bytes(cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, 80])[1])


def analyse_container(
    container: Any,
    limits: AnalysisLimits = AnalysisLimits(),
    *,
    cancel: threading.Event | None = None,
    started: float | None = None,
) -> Analysis:
    """Sample and score an open PyAV container (blocking; see the module docstring)."""
    deadline = (started if started is not None else time.monotonic()) + limits.time_limit
    if not container.streams.video:
        raise MediaError("not_a_video", Text("That file is not a video."))
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    video.codec_context.options = {"skip_loop_filter": "all"}
    video.codec_context.skip_frame = "NONREF"
    audio = container.streams.audio[0] if container.streams.audio else None
    duration = container.duration / av.time_base if container.duration else None
    sampler = _FrameSampler(limits, duration)
    listener = _SoundListener()
    streams = [video] if audio is None else [video, audio]
    for packet in container.demux(*streams):
        if cancel is not None and cancel.is_set():
            raise AnalysisCancelled
        if time.monotonic() > deadline:
            raise MediaError("analysis_timeout", TOO_SLOW)
        if _time(packet) > limits.max_seconds + 1.0:
            if packet.stream is video or sampler.done:
                break
            continue
        try:
            decoded = packet.decode()
        except av.error.InvalidDataError:
            continue  # a damaged packet: skip it, as players do
        for frame in decoded:
            if packet.stream is video:
                sampler.take(frame)
            else:
                listener.take(frame)
    frames, thumbs = sampler.frames, sampler.thumbs
    sound = listener.track(len(frames) / limits.fps)
    return Analysis(
        fps=limits.fps,
        frames=frames,
        sound=sound,
        windows=rank_windows(frames, limits.fps, sound),
        thumbs=thumbs,
        seconds=len(frames) / limits.fps,
    )


def _time(packet: Any) -> float:
    """A packet's presentation time in seconds (0 when unknown)."""
    if packet.pts is None or packet.time_base is None:
        return 0.0
    return float(packet.pts * packet.time_base)


class _FrameSampler:
    """Keeps the first decoded frame at or after every 1/fps mark."""

    def __init__(self, limits: AnalysisLimits, duration: float | None) -> None:
        self.limits = limits
        self.end = min(limits.max_seconds, duration or limits.max_seconds)
        self.frames: list[FrameFeatures] = []
        self.thumbs: list[bytes] = []
        self._hist: Any = None
        self.done = False

    def take(self, frame: Any) -> None:
        if self.done or frame.time is None:
            return
        index = len(self.frames)
        mark = index / self.limits.fps
        if frame.time < mark - 0.5 / self.limits.fps:
            return
        if mark >= self.end - 1e-3:
            self.done = True
            return
        height = self.limits.height
        width = max(2, round(frame.width * height / max(1, frame.height) / 2) * 2)
        bgr = frame.to_ndarray(format="bgr24", width=width, height=height)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        features, self._hist = frame_features(grey, self._hist)
        thumb_width = round(width * THUMB_HEIGHT / height)
        small = cv2.resize(bgr, (thumb_width, THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
        jpeg = bytes(cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])[1])
        # A gap in the source (a stream that starts late): repeat the sample.
        while len(self.frames) / self.limits.fps <= frame.time - 1 / self.limits.fps:
            self.frames.append(features)
            self.thumbs.append(jpeg)
        self.frames.append(features)
        self.thumbs.append(jpeg)


class _SoundListener:
    """Turns decoded audio into a loudness envelope and a voice-band share per second."""

    BLOCK = AUDIO_RATE // ENVELOPE_RATE

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        self._pending = np.zeros(0, np.float32)
        self._envelope: list[Any] = []
        self._voice: list[float] = []

    def take(self, frame: Any) -> None:
        for out in self._resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1).astype(np.float32)
            self._pending = np.concatenate([self._pending, samples])
        while self._pending.size >= AUDIO_RATE:
            self._second(self._pending[:AUDIO_RATE])
            self._pending = self._pending[AUDIO_RATE:]

    def _second(self, samples: Any) -> None:
        blocks = samples.reshape(-1, self.BLOCK)
        self._envelope.append(np.sqrt((blocks**2).mean(axis=1)).astype(np.float32))
        power = np.abs(np.fft.rfft(samples)) ** 2
        freqs = np.fft.rfftfreq(samples.size, 1 / AUDIO_RATE)
        voice = power[(freqs >= 100) & (freqs <= 4000)].sum()
        self._voice.append(float(voice / (power.sum() + 1e-12)))

    def track(self, seconds: float) -> SoundTrack:
        if self._pending.size:
            self._second(np.pad(self._pending, (0, AUDIO_RATE - self._pending.size)))
            self._pending = np.zeros(0, np.float32)
        whole = int(np.ceil(seconds)) + 1
        envelope = np.concatenate(self._envelope) if self._envelope else np.zeros(0, np.float32)
        voice = np.asarray(self._voice, np.float32)
        envelope = np.pad(envelope, (0, max(0, whole * ENVELOPE_RATE - envelope.size)))
        voice = np.pad(voice, (0, max(0, whole - voice.size)))
        return SoundTrack(envelope=envelope, voice_share=voice)
