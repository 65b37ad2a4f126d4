"""Media work of the simulator: fetch and probe a task's video, draw the avatar JPEG.

PyAV calls block, so they run in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import httpx

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30.0


@dataclass(frozen=True)
class MediaProblem:
    """Why a task's video was refused, as the task's `error`."""

    code: str
    message: str


INVALID_VIDEO = MediaProblem("invalid_video", "Video could not be read")
NO_AUDIO = MediaProblem("no_audio", "The video must contain an audio track")
OUT_OF_RANGE = MediaProblem("invalid_timestamps", "timestamps are outside the video duration")


@dataclass(frozen=True)
class ProbeResult:
    """What the probe found in a file."""

    has_video: bool
    has_audio: bool
    duration: float | None


async def download(client: httpx.AsyncClient, url: str) -> bytes | MediaProblem:
    """Fetch `url` into memory (at most 200 MB) or say why it failed."""
    try:
        async with client.stream("GET", url, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status_code != 200:
                return MediaProblem(
                    "download_failed",
                    f"Video could not be downloaded (HTTP {response.status_code})",
                )
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > MAX_DOWNLOAD_BYTES:
                    return MediaProblem("download_failed", "Video is larger than 200 MB")
            return bytes(data)
    except httpx.HTTPError as exc:
        log.info("download of %s failed: %r", url, exc)
        return MediaProblem("download_failed", "Video could not be downloaded")


def probe(data: bytes) -> ProbeResult | None:
    """Open `data` with PyAV; None when it is not readable media (blocking)."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = list(container.streams)
            has_video = any(stream.type == "video" for stream in streams)
            has_audio = any(stream.type == "audio" for stream in streams)
            duration: float | None = None
            if container.duration is not None:
                duration = container.duration / av.time_base
            else:
                lengths = [
                    float(stream.duration * stream.time_base)
                    for stream in streams
                    if stream.duration is not None and stream.time_base is not None
                ]
                duration = max(lengths) if lengths else None
            return ProbeResult(has_video, has_audio, duration)
    except Exception as exc:  # PyAV raises many kinds of errors for garbage input
        log.debug("probe failed: %r", exc)
        return None


async def check_video(client: httpx.AsyncClient, url: str, end: float) -> MediaProblem | None:
    """Download and probe a task's video; None when it is acceptable.

    Only the range end is checked against the duration: the start is always before it.
    """
    data = await download(client, url)
    if isinstance(data, MediaProblem):
        return data
    found = await asyncio.to_thread(probe, data)
    if found is None or not found.has_video:
        return INVALID_VIDEO
    if not found.has_audio:
        return NO_AUDIO
    if found.duration is not None and end > found.duration:
        return OUT_OF_RANGE
    return None


def make_avatar_jpeg(size: int = 64) -> bytes:
    """Encode one plain-coloured frame as a JPEG with PyAV's mjpeg encoder (blocking)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width = size
    codec.height = size
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    frame = av.VideoFrame(size, size, "yuvj420p")
    for plane, level in zip(frame.planes, (170, 90, 200), strict=True):
        plane.update(bytes([level]) * plane.buffer_size)
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    return b"".join(bytes(packet) for packet in packets)
