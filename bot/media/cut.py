"""Cutting a time window out of a video with PyAV (blocking; run it in a worker thread).

The source is a seekable file-like object (a `CheckedReader`), never a URL: PyAV would
follow redirects and resolve names on its own. The demuxer seeks to the keyframe at or
before the window, so only the index and the window's packets are read.

Where a keyframe sits at the window's start (within `KEYFRAME_TOLERANCE`) and the source is
H.264 + AAC, packets are copied as they are; otherwise the window is decoded from the
preceding keyframe and re-encoded (libx264 `veryfast`, at most 1920 px on the long side,
AAC audio). The output is always an MP4.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av

from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.probe import refuse_nested_open

KEYFRAME_TOLERANCE = 0.05
MAX_LONG_SIDE = 1920
COPY_VIDEO_CODECS = frozenset({"h264"})
COPY_AUDIO_CODECS = frozenset({"aac"})
_EPSILON = 1e-3


class CutCancelled(Exception):
    """The caller gave up (its `cancel` event was set) while the cut was running."""


class FrameTap(Protocol):
    """Shown every decoded video frame of the window while the cut runs (same pass)."""

    def take(self, frame: Any) -> None:
        """Look at one frame (a PyAV `VideoFrame`, source time in `frame.time`)."""


@dataclass(frozen=True, slots=True)
class Cut:
    """A clip written to `path`, starting at `offset` seconds into the source."""

    path: Path
    offset: float
    copied: bool


def cut_window(
    source: Any,
    dest: Path,
    begin: float,
    finish: float,
    *,
    cancel: threading.Event,
    tap: FrameTap | None = None,
) -> Cut:
    """Write [begin, finish] of `source` to `dest` (an MP4) and describe the result.

    With a `tap`, every video frame of the window is also decoded (when copying) and shown
    to it, in the same read of the source.
    """
    container = av.open(source, mode="r", io_open=refuse_nested_open)
    try:
        return cut_container(container, dest, begin, finish, cancel=cancel, tap=tap)
    finally:
        container.close()


def cut_container(
    container: Any,
    dest: Path,
    begin: float,
    finish: float,
    *,
    cancel: threading.Event,
    tap: FrameTap | None = None,
) -> Cut:
    """Like `cut_window`, on an input container the caller opened (and closes)."""
    if not container.streams.video:
        raise MediaError("not_a_video", Text("That file is not a video."))
    if not container.streams.audio:
        raise MediaError("no_audio", Text("That video has no sound."))
    video = container.streams.video[0]
    audio = container.streams.audio[0]
    keyframe = _keyframe_before(container, video, begin + KEYFRAME_TOLERANCE)
    copyable = (
        video.codec_context.name in COPY_VIDEO_CODECS
        and audio.codec_context.name in COPY_AUDIO_CODECS
    )
    if copyable and keyframe is not None and abs(keyframe - begin) <= KEYFRAME_TOLERANCE:
        _copy(container, video, audio, dest, (keyframe, finish), cancel, tap)
        return Cut(dest, keyframe, copied=True)
    _encode(container, video, audio, dest, (begin, finish), cancel, tap)
    return Cut(dest, begin, copied=False)


def _keyframe_before(container: Any, video: Any, at: float) -> float | None:
    """Time of the keyframe the demuxer lands on when seeking back from `at`."""
    container.seek(_pts(at, video.time_base), stream=video, backward=True)
    for packet in container.demux(video):
        if packet.pts is not None and packet.size:
            return float(packet.pts * video.time_base) if packet.is_keyframe else None
    return None


def _pts(seconds: float, time_base: Fraction) -> int:
    return round(Fraction(seconds).limit_denominator(1_000_000) / time_base)


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise CutCancelled


def _copy(
    container: Any,
    video: Any,
    audio: Any,
    dest: Path,
    window: tuple[float, float],
    cancel: threading.Event,
    tap: FrameTap | None,
) -> None:
    """Copy the packets of [start, finish] (start is a keyframe) into a new MP4."""
    start, finish = window
    v_off, v_end = _pts(start, video.time_base), _pts(finish, video.time_base)
    a_off, a_end = _pts(start, audio.time_base), _pts(finish, audio.time_base)
    container.seek(v_off, stream=video, backward=True)
    output = av.open(str(dest), mode="w", format="mp4")
    try:
        out_video = output.add_stream_from_template(video)
        out_audio = output.add_stream_from_template(audio)
        video_done = audio_done = False
        for packet in container.demux(video, audio):
            _check(cancel)
            if packet.pts is None or packet.dts is None or not packet.size:
                continue
            if packet.stream.index == video.index:
                if packet.dts >= v_end:
                    video_done = True
                else:
                    if tap is not None:  # decoded before the packet is retimed
                        _show(tap, packet.decode(), start, finish)
                    if packet.pts >= v_off:
                        packet.pts -= v_off
                        packet.dts -= v_off
                        packet.stream = out_video
                        output.mux(packet)
            elif packet.stream.index == audio.index:
                if packet.pts >= a_end:
                    audio_done = True
                elif packet.pts >= a_off:
                    packet.pts -= a_off
                    packet.dts -= a_off
                    packet.stream = out_audio
                    output.mux(packet)
            if video_done and audio_done:
                break
    finally:
        output.close()


def _show(tap: FrameTap, frames: Any, start: float, finish: float) -> None:
    """Show the tap the frames of [start, finish) among `frames`."""
    for frame in frames:
        if frame.time is not None and start - _EPSILON <= frame.time < finish - _EPSILON:
            tap.take(frame)


def fit_size(width: int, height: int) -> tuple[int, int]:
    """The source size scaled down to MAX_LONG_SIDE if needed, in even numbers."""
    scale = min(1.0, MAX_LONG_SIDE / max(width, height, 1))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _encode(
    container: Any,
    video: Any,
    audio: Any,
    dest: Path,
    window: tuple[float, float],
    cancel: threading.Event,
    tap: FrameTap | None,
) -> None:
    """Decode [start, finish] from the preceding keyframe; encode H.264 + AAC."""
    start, finish = window
    vtb: Fraction = video.time_base
    v_off = _pts(start, vtb)
    width, height = fit_size(video.codec_context.width, video.codec_context.height)
    rate = audio.codec_context.sample_rate or 44100
    layout = "mono" if audio.codec_context.channels == 1 else "stereo"
    container.seek(_pts(start, vtb), stream=video, backward=True)
    output = av.open(str(dest), mode="w", format="mp4")
    try:
        out_video = output.add_stream(
            "libx264", rate=video.average_rate or 25, options={"preset": "veryfast"}
        )
        out_video.width, out_video.height = width, height
        out_video.pix_fmt = "yuv420p"
        out_video.codec_context.time_base = vtb
        out_audio = output.add_stream("aac", rate=rate)
        out_audio.layout = layout
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate, frame_size=1024)
        next_sample: int | None = None
        video_done = audio_done = False
        for packet in container.demux(video, audio):
            _check(cancel)
            is_video = packet.stream.index == video.index
            if (video_done if is_video else audio_done) and packet.size:
                continue
            for frame in packet.decode():
                if frame.time is None or frame.time < start - _EPSILON:
                    continue
                if frame.time >= finish - _EPSILON:
                    if is_video:
                        video_done = True
                    else:
                        audio_done = True
                    continue
                if is_video:
                    if tap is not None:
                        tap.take(frame)
                    image = frame.reformat(width=width, height=height, format="yuv420p")
                    image.pts = frame.pts - v_off
                    image.time_base = vtb
                    output.mux(out_video.encode(image))
                    continue
                if next_sample is None:
                    next_sample = max(0, round((frame.time - start) * rate))
                for piece in resampler.resample(frame):
                    piece.pts, piece.time_base = next_sample, Fraction(1, rate)
                    next_sample += piece.samples
                    output.mux(out_audio.encode(piece))
            if video_done and audio_done:
                break
        for piece in resampler.resample(None):
            piece.pts, piece.time_base = next_sample or 0, Fraction(1, rate)
            next_sample = (next_sample or 0) + piece.samples
            output.mux(out_audio.encode(piece))
        output.mux(out_video.encode(None))
        output.mux(out_audio.encode(None))
    finally:
        output.close()


def still_jpeg(path: Path, at: float) -> bytes:
    """A JPEG of the first frame at or after `at` seconds of the local video `path`."""
    with av.open(str(path), mode="r") as container:
        video = container.streams.video[0]
        if video.time_base is not None:
            container.seek(_pts(max(0.0, at), video.time_base), stream=video, backward=True)
        chosen: Any = None
        for frame in container.decode(video):
            chosen = frame
            if frame.time is not None and frame.time >= at - _EPSILON:
                break
    if chosen is None:
        raise MediaError("cut_failed", Text("Could not read a frame of the clip."))
    encoder: Any = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = chosen.width, chosen.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    image = chosen.reformat(format="yuvj420p")
    packets = list(encoder.encode(image)) + list(encoder.encode(None))
    return b"".join(bytes(packet) for packet in packets)


def clip_window(
    start: float, end: float, duration: float | None, margin: float
) -> tuple[float, float]:
    """Where the clip begins and ends in the source.

    It begins a whole number of seconds (at least `margin`, fewer only near the start of
    the video) before `start`, so that clip-relative timestamps are whole when `start` is.
    """
    lead = min(math.ceil(margin - 1e-9), math.floor(start + 1e-9))
    begin = round(start - max(0, lead), 3)
    finish = end + margin
    if duration is not None:
        finish = min(finish, duration)
    return begin, round(finish, 3)


def snap_whole(value: float) -> float:
    """Round to whole seconds when within the keyframe tolerance, else to milliseconds."""
    whole = round(value)
    if whole >= 0 and abs(value - whole) <= KEYFRAME_TOLERANCE + 1e-6:
        return float(whole)
    return round(max(0.0, value), 3)
