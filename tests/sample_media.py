"""Test media made at test time with ffmpeg (no binary files in the repository)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg on PATH, else the one bundled with imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def _run(args: list[str]) -> None:
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()}")


def make_video(
    path: Path,
    *,
    seconds: float = 5,
    audio: bool = True,
    size: str = "320x240",
    fps: int = 25,
    bitrate: str | None = None,
) -> Path:
    """Write an H.264 (+ AAC when `audio`) MP4 test pattern of `seconds` to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if bitrate:
        args += ["-b:v", bitrate]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    args += ["-t", str(seconds), "-movflags", "+faststart", "-f", "mp4", str(path)]
    _run(args)
    return path


def make_audio_only(path: Path, *, seconds: float = 3) -> Path:
    """Write a WAV file with a sine tone and no video stream."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate=22050:duration={seconds}",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            str(path),
        ]
    )
    return path


def make_non_video(path: Path) -> Path:
    """Write plain text under `path` (typically named *.mp4): not media at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not a video, only text pretending to be one\n" * 20)
    return path
