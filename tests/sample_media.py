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


def _face_png(path: Path, side: int) -> Path:
    """scikit-image's astronaut photo (it ships in the package) as a `side` px square."""
    import cv2
    from skimage import data

    photo = data.astronaut()  # type: ignore[no-untyped-call]
    image = cv2.resize(photo[:, :, ::-1], (side, side), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), image)
    return path


def _speech_or_noise(spans: list[tuple[float, float]]) -> str:
    """Voice-band harmonics at 4 Hz (the syllable rate) inside `spans`, noise elsewhere."""
    voice = "0.12*(sin(2*PI*200*t)+sin(2*PI*400*t)+sin(2*PI*600*t))*(0.5+0.5*sin(2*PI*4*t))"
    inside = "+".join(f"between(t,{a},{b})" for a, b in spans) or "0"
    return f"if(gt({inside},0),{voice},0.03*(2*random(0)-1))"


def make_face_video(
    path: Path,
    *,
    seconds: float = 12,
    one_face: tuple[float, float] | None = (4, 9),
    two_faces: tuple[float, float] | None = None,
    speech: list[tuple[float, float]] | None = None,
    fps: int = 25,
) -> Path:
    """A 640x360 MP4: a real face (one, or two side by side) only between known times,
    speech-like sound in `speech` (default: where faces are) and noise elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    big = _face_png(path.with_suffix(".one.png"), 340)
    small = _face_png(path.with_suffix(".two.png"), 300)
    never = (seconds + 1, seconds + 2)
    a, b = one_face or never
    c, d = two_faces or never
    spans = speech if speech is not None else [s for s in (one_face, two_faces) if s]
    graph = (
        "[0]noise=alls=12[bg];"
        f"[bg][1]overlay=150:10:enable='between(t,{a},{b})'[v1];"
        f"[v1][2]overlay=15:30:enable='between(t,{c},{d})'[v2];"
        f"[v2][2]overlay=325:30:enable='between(t,{c},{d})'[v]"
    )
    args = [
        "-f", "lavfi", "-i", f"color=c=0x4a6078:s=640x360:r={fps}:d={seconds}",
        "-loop", "1", "-i", str(big),
        "-loop", "1", "-i", str(small),
        "-f", "lavfi", "-i", f"aevalsrc='{_speech_or_noise(spans)}':s=16000:d={seconds}",
        "-filter_complex", graph, "-map", "[v]", "-map", "3:a",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-t", str(seconds), "-movflags", "+faststart",
        "-f", "mp4", str(path),
    ]  # fmt: skip
    _run(args)
    return path


TIMECODE_STEP = 14  # grey levels between two frame-number digits


def make_timecode_video(
    path: Path, *, seconds: float = 8, sharp: tuple[float, float] = (3.2, 4.2), fps: int = 25
) -> Path:
    """A 320x240 H.264 + AAC MP4 (a keyframe every second) whose frames show their number.

    The top half's left and right quarters are flat greys for the frame number's two base-16
    digits (`timecode_of` reads them back); the bottom quarter is fine noise (sharp) only
    inside `sharp` seconds, flat elsewhere.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    step = TIMECODE_STEP
    digits = f"if(lt(X,W/2),mod(N,16),mod(floor(N/16),16))*{step}+16"
    noise = f"if(gt(Y,H*3/4)*between(T,{sharp[0]},{sharp[1]}),(random(1)-0.5)*200,0)"
    args = [
        "-f", "lavfi", "-i", f"nullsrc=s=320x240:r={fps}:d={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
        "-vf", f"geq=lum='{digits}+{noise}':cb=128:cr=128",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "64k", "-t", str(seconds), "-movflags", "+faststart",
        "-f", "mp4", str(path),
    ]  # fmt: skip
    _run(args)
    return path


def timecode_of(grey: object) -> int:
    """The frame number a `make_timecode_video` frame (a full-range grey array) shows."""
    import numpy as np

    image = np.asarray(grey, dtype=np.float64) * 219 / 255 + 16  # back to video levels
    height, width = image.shape[:2]
    band = image[height // 8 : height * 3 // 8]
    low = round((float(band[:, width // 16 : width * 7 // 16].mean()) - 16) / TIMECODE_STEP)
    high = round((float(band[:, width * 9 // 16 : width * 15 // 16].mean()) - 16) / TIMECODE_STEP)
    return high * 16 + low
