"""The likeness: the cut clip and three stills of the chosen range, in one decode pass."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from bot.media.cut import cut_window
from bot.media.likeness import Likeness, cut_likeness
from bot.media.scoring import frame_features
from tests.sample_media import make_timecode_video, timecode_of
from tests.shared_media import made_once

FPS = 25


@pytest.fixture(scope="module")
def timecode_video(media_dir: Path) -> Path:
    """8 s whose frames show their number; fine texture (sharp) only in 3.2-4.2 s."""
    return made_once(
        media_dir / "timecode.mp4",
        lambda path: make_timecode_video(path, seconds=8, sharp=(3.2, 4.2)),
    )


def grey(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return np.asarray(image)


def likeness(
    video: Path, dest: Path, begin: float, finish: float, chosen: tuple[float, float]
) -> Likeness:
    with video.open("rb") as handle:
        return cut_likeness(
            handle, dest, begin, finish, stills_from=chosen, cancel=threading.Event()
        )


def decoded_frames(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").tobytes() for f in container.decode(video=0)]


@pytest.mark.parametrize(("begin", "copied"), [(2.0, True), (1.5, False)])
def test_stills_are_frames_of_the_range_spread_apart(
    timecode_video: Path, tmp_path: Path, begin: float, copied: bool
) -> None:
    start, end = 2.5, 5.5  # only 3.2-4.2 s is sharp: the three sharpest are neighbours
    result = likeness(timecode_video, tmp_path / "clip.mp4", begin, 6.5, (start, end))
    assert result.cut.copied is copied
    assert len(result.stills) == 3
    for still in result.stills:
        assert start <= still.at <= end
        image = grey(still.jpeg)
        assert image.shape == (240, 320)
        assert timecode_of(image) == round(still.at * FPS)  # the source frame at that time
    times = [s.at for s in result.stills]
    assert times == sorted(times)
    assert min(b - a for a, b in itertools.pairwise(times)) >= (end - start) / 4 - 0.05
    assert any(3.2 <= t <= 4.2 for t in times)  # the sharp part is among them


@pytest.mark.parametrize("begin", [2.0, 1.5])
def test_clip_is_the_same_as_the_cut_alone(
    timecode_video: Path, tmp_path: Path, begin: float
) -> None:
    result = likeness(timecode_video, tmp_path / "with.mp4", begin, 6.5, (2.5, 5.5))
    with timecode_video.open("rb") as handle:
        alone = cut_window(handle, tmp_path / "alone.mp4", begin, 6.5, cancel=threading.Event())
    assert (result.cut.offset, result.cut.copied) == (alone.offset, alone.copied)
    assert decoded_frames(result.clip_path) == decoded_frames(alone.path)
    with av.open(str(result.clip_path)) as container:
        assert container.streams.audio  # the clip keeps its sound


def test_face_frames_are_preferred(face_video: Path, tmp_path: Path) -> None:
    # The face shows from 0:04 on; the range begins a second before it.
    result = likeness(face_video, tmp_path / "clip.mp4", 2.5, 7.0, (3.0, 6.0))
    assert len(result.stills) == 3
    for still in result.stills:
        assert 4.0 <= still.at <= 6.0
        features, _ = frame_features(cv2.resize(grey(still.jpeg), (640, 360)), None)
        assert features.faces == 1
    times = [s.at for s in result.stills]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.3
