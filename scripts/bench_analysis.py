"""Benchmark: the moment analysis, seconds per minute of source and peak memory.

Makes a source with ffmpeg (a real face in the middle third, speech-like sound there,
noise elsewhere), scales it to `--height`, then analyses it twice, each in its own
process so peak memory (max RSS) is its own:

- default: `bot.media.analysis.analyse_container` (reference frames only, loop filter
  skipped, 2 fps at 360 px, features and a small JPEG kept per sample);
- naive: every frame decoded in full and converted to a full-size picture, the same
  features computed at the same 2 fps.

Figures only; nothing is asserted. Usage: python scripts/bench_analysis.py [--minutes 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import cv2

from bot.media.analysis import AnalysisLimits, analyse_container
from bot.media.scoring import frame_features


def naive(path: Path, limits: AnalysisLimits) -> int:
    """Decode every frame at full size; sample features at the same rate."""
    samples = 0
    hist: Any = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is None or frame.time > limits.max_seconds:
                break
            picture = frame.to_ndarray(format="bgr24")  # every frame, full size
            if frame.time >= samples / limits.fps:
                height = limits.height
                width = round(picture.shape[1] * height / picture.shape[0])
                grey = cv2.cvtColor(cv2.resize(picture, (width, height)), cv2.COLOR_BGR2GRAY)
                _, hist = frame_features(grey, hist)
                samples += 1
    return samples


def one(kind: str, path: Path) -> None:
    """Run one variant and print its figures as JSON (child process)."""
    limits = AnalysisLimits(time_limit=3600)
    started = time.perf_counter()
    if kind == "default":
        with av.open(str(path)) as container:
            analysis = analyse_container(container, limits)
        detail = f"best {analysis.windows[0].label}: {analysis.windows[0].reasons}"
    else:
        detail = f"{naive(path, limits)} samples"
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": took, "peak_mb": peak, "detail": detail}))


def make_source(folder: Path, minutes: float, height: int) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.sample_media import _run, make_face_video

    seconds = round(minutes * 60)
    small = make_face_video(
        folder / "small.mp4", seconds=seconds, one_face=(seconds / 3, 2 * seconds / 3), fps=30
    )
    path = folder / "source.mp4"
    scale = ["-vf", f"scale=-2:{height}", "-c:v", "libx264", "-preset", "veryfast"]
    _run(["-i", str(small), *scale, "-c:a", "copy", "-movflags", "+faststart", str(path)])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = make_source(Path(folder), args.minutes, args.height)
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            shape = f"{video.codec_context.width}x{video.codec_context.height}"
            rate = float(video.average_rate or 0)
        print(f"source: {args.minutes:g} min, {shape} at {rate:g} fps, H.264 (veryfast), AAC")
        for kind in ("default", "naive"):
            out = subprocess.run(  # noqa: S603 (this script, this interpreter)
                [sys.executable, __file__, "--one", kind, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            per_minute = figures["seconds"] / args.minutes
            print(
                f"{kind:8s} {per_minute:6.2f} s per minute of source, peak memory "
                f"{figures['peak_mb']:.0f} MB ({figures['detail']})"
            )


if __name__ == "__main__":
    main()
