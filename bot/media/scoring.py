"""Scoring frames, sound and 1-3 s windows for the moment suggestion (pure, no I/O).

A good moment for toapis shows exactly one character (a face seen from the front or the
side, or an animal face), large, sharp and well lit, with speech (or at least sound) and
no scene cut inside. Faces come from the Haar cascades opencv-python-headless 4.x ships
(nothing is downloaded at run time). Speech is told from other sound by an energy and
modulation measure: syllables make the loudness of a voice rise and fall about 2-8 times
a second, and most of its energy lies in the voice band; steady noise, music beds and
tones do neither.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from bot.domain.ranges import format_clock
from bot.i18n import N_
from bot.i18n.text import Text

CASCADES = {
    "face": "haarcascade_frontalface_default.xml",
    "profile": "haarcascade_profileface.xml",
    "animal": "haarcascade_frontalcatface.xml",
}
DETECT_HEIGHT = 180  # faces are searched at half the 360 px sample: large faces only
MIN_FACE_SHARE = 0.11  # of the frame height: smaller faces do not count as "visible"
FULL_FACE_SHARE = 0.3  # a face this tall (or taller) gets full marks for size
CUT_DISTANCE = 0.45  # Bhattacharyya distance of grey histograms: a scene cut
ENVELOPE_RATE = 100  # loudness values per second (10 ms each)
SOUND_DB = -50.0
SPEECH_DEPTH = 0.3  # loudness std / mean
SPEECH_SYLLABLE_SHARE = 0.4  # of the loudness spectrum's power in 2-8 Hz
SPEECH_VOICE_BAND = 0.7  # of the sound's energy in 100-4000 Hz
WINDOW_SPANS = (3.0, 2.0, 1.0)
AUDIO_FACTOR = {"speech": 1.0, "sound": 0.75, "silence": 0.4}


_PER_THREAD = threading.local()


def cascade(kind: str) -> Any:
    """The shipped cascade for `kind`, loaded once per thread: one classifier used by two
    threads at once crashes OpenCV (the media workers are threads); raises if missing."""
    loaded: dict[str, Any] = _PER_THREAD.__dict__.setdefault("cascades", {})
    classifier = loaded.get(kind)
    if classifier is None:
        path = str(cv2.data.haarcascades) + CASCADES[kind]  # type: ignore[attr-defined]
        classifier = cv2.CascadeClassifier(path)
        if classifier.empty():
            raise RuntimeError(f"OpenCV cascade {CASCADES[kind]} is missing (opencv 4.x ships it)")
        loaded[kind] = classifier
    return classifier


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """What one sampled frame shows."""

    faces: int  # distinct faces of any kind
    kind: str | None  # "face", "profile" or "animal" (of the largest face)
    face_share: float  # the largest face's height / the frame's height
    sharpness: float  # variance of the Laplacian (of the face when there is one)
    brightness: float  # mean grey level, 0-255
    cut_before: bool  # a scene cut since the previous sample


def frame_features(grey: Any, previous_hist: Any | None) -> tuple[FrameFeatures, Any]:
    """Features of one 360 px grey frame, and its histogram for the next call."""
    height, width = grey.shape[:2]
    scale = DETECT_HEIGHT / height
    size = (max(1, round(width * scale)), DETECT_HEIGHT)
    small: Any = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    boxes, kind = _faces(small)
    hist = cv2.calcHist([grey], [0], None, [32], [0, 256])
    cv2.normalize(hist, hist)
    cut = previous_hist is not None and (
        cv2.compareHist(previous_hist, hist, cv2.HISTCMP_BHATTACHARYYA) > CUT_DISTANCE
    )
    region = grey
    share = 0.0
    if boxes:
        x, y, w, h = (round(v / scale) for v in max(boxes, key=lambda b: b[3]))
        region = grey[y : y + h, x : x + w]
        share = h / height
    sharpness = float(cv2.Laplacian(region, cv2.CV_64F).var()) if region.size else 0.0
    features = FrameFeatures(
        faces=len(boxes),
        kind=kind,
        face_share=round(share, 3),
        sharpness=sharpness,
        brightness=float(grey.mean()),
        cut_before=bool(cut),
    )
    return features, hist


def _faces(small: Any) -> tuple[list[tuple[int, int, int, int]], str | None]:
    """Distinct faces: frontal first; profiles (both ways) and animals only if none."""
    found = _detect("face", small)
    if found:
        return found, "face"
    width = small.shape[1]
    mirrored = [(width - x - w, y, w, h) for x, y, w, h in _detect("profile", small[:, ::-1])]
    profiles = _merge(_detect("profile", small) + mirrored)
    if profiles:
        return profiles, "profile"
    animals = _detect("animal", small)
    return animals, ("animal" if animals else None)


# Frontal faces are searched finely; the fallbacks (profiles both ways, animal faces), run
# only on frames without a frontal face, take coarser steps: three passes cost less.
SCALE_STEP = {"face": 1.15, "profile": 1.25, "animal": 1.25}


def _detect(kind: str, image: Any) -> list[tuple[int, int, int, int]]:
    minimum = round(DETECT_HEIGHT * MIN_FACE_SHARE)
    found = cascade(kind).detectMultiScale(
        np.ascontiguousarray(image),
        scaleFactor=SCALE_STEP[kind],
        minNeighbors=4,
        minSize=(minimum, minimum),
    )
    return _merge([tuple(int(v) for v in box) for box in found])


def _merge(boxes: list[Any]) -> list[tuple[int, int, int, int]]:
    """One box per face: boxes that overlap a larger one are the same face."""
    kept: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
        if all(_overlap(box, other) < 0.3 for other in kept):
            kept.append(box)
    return kept


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over the smaller box."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, min(a[2] * a[3], b[2] * b[3]))


def sample_score(frame: FrameFeatures) -> float:
    """0-1: exactly one large face, sharp and well lit, scores high."""
    if frame.faces == 0:
        return 0.0
    size = min(1.0, frame.face_share / FULL_FACE_SHARE)
    face = size if frame.faces == 1 else 0.1 * size
    sharp = min(1.0, frame.sharpness / 60.0)
    lit = 1.0 if 40 <= frame.brightness <= 215 else 0.0
    return face * (0.7 + 0.15 * sharp + 0.15 * lit)


@dataclass(frozen=True, slots=True)
class SoundTrack:
    """The loudness envelope (100 values a second) and the voice-band share per second."""

    envelope: Any  # float32 array, RMS of 10 ms blocks
    voice_share: Any  # float32 array, one value per second

    def describe(self, start: float, end: float) -> str:
        """ "speech", "sound" or "silence" for `start`..`end`."""
        env = self.envelope[int(start * ENVELOPE_RATE) : int(end * ENVELOPE_RATE)]
        if env.size < ENVELOPE_RATE // 2:
            return "silence"
        level = float(np.sqrt(np.mean(env.astype(np.float64) ** 2)))
        if 20 * np.log10(level + 1e-9) < SOUND_DB:
            return "silence"
        voice = self.voice_share[int(start) : max(int(start) + 1, int(np.ceil(end)))]
        return (
            "speech" if _modulated(env) and float(np.mean(voice)) >= SPEECH_VOICE_BAND else "sound"
        )


def _modulated(env: Any) -> bool:
    """Loudness that rises and falls at the syllable rate (2-8 Hz), deeply enough."""
    mean = float(env.mean())
    if mean <= 0 or float(env.std()) / mean < SPEECH_DEPTH:
        return False
    centred = env - mean
    power = np.abs(np.fft.rfft(centred * np.hanning(centred.size))) ** 2
    freqs = np.fft.rfftfreq(centred.size, 1 / ENVELOPE_RATE)
    syllable = power[(freqs >= 2) & (freqs <= 8)].sum()
    return bool(syllable / (power[freqs >= 0.5].sum() + 1e-12) >= SPEECH_SYLLABLE_SHARE)


# The words of `Window.reasons` (msgids).
ONE_FACE = N_("one face")
FACE_KINDS = {"profile": N_("one face in profile"), "animal": N_("one animal face")}
AUDIO_WORDS = {"speech": N_("speech"), "sound": N_("sound"), "silence": N_("silence")}


@dataclass(frozen=True, slots=True)
class Window:
    """A scored 1-3 s range of the source."""

    start: float
    end: float
    score: float
    faces: int  # the usual number of faces in it
    kind: str | None
    face_share: float  # median height of the face, as a share of the frame
    audio: str  # "speech", "sound" or "silence"
    cut: bool  # a scene cut inside

    @property
    def label(self) -> str:
        """0:12-0:15."""
        return f"{format_clock(self.start)}-{format_clock(self.end)}"

    @property
    def reasons(self) -> str:
        """one face, 38 % of the frame, speech."""
        return ", ".join(str(part) for part in self.reason_parts)

    def reasons_in(self, locale: str | None) -> str:
        """`reasons` in the language of a Discord `locale`."""
        return ", ".join(part.render(locale) for part in self.reason_parts)

    @property
    def reason_parts(self) -> tuple[Text, ...]:
        """What `reasons` says, one part a msgid."""
        if self.faces == 0:
            who = Text("no face")
        elif self.faces == 1:
            who = Text(FACE_KINDS.get(self.kind or "", ONE_FACE))
        else:
            who = Text("{count} faces", count=self.faces)
        parts = [who]
        if self.faces:
            parts.append(Text("{share} % of the frame", share=round(self.face_share * 100)))
        parts.append(Text(AUDIO_WORDS.get(self.audio, self.audio)))
        if self.cut:
            parts.append(Text("a scene cut"))
        return tuple(parts)


def score_range(
    frames: list[FrameFeatures], fps: float, sound: SoundTrack, start: float, end: float
) -> Window:
    """The score and summary of `start`..`end` (any range inside the analysed part)."""
    first = max(0, round(start * fps))
    last = max(first + 1, round(end * fps))
    chosen = frames[first:last]
    if not chosen:
        return Window(start, end, 0.0, 0, None, 0.0, sound.describe(start, end), False)
    counts = sorted(f.faces for f in chosen)
    usual = counts[len(counts) // 2]
    with_face = [f for f in chosen if f.faces == usual and f.faces > 0]
    shares = sorted(f.face_share for f in with_face)
    kinds = [f.kind for f in with_face]
    kind = max(set(kinds), key=kinds.count) if kinds else None
    cut = any(f.cut_before for f in chosen[1:])
    audio = sound.describe(start, end)
    score = sum(sample_score(f) for f in chosen) / len(chosen) * AUDIO_FACTOR[audio]
    score += 0.01 * (end - start) if score > 0 else 0.0  # longer, when otherwise equal
    return Window(
        start=round(start, 3),
        end=round(end, 3),
        score=0.0 if cut else round(score, 4),
        faces=usual,
        kind=kind,
        face_share=shares[len(shares) // 2] if shares else 0.0,
        audio=audio,
        cut=cut,
    )


def rank_windows(
    frames: list[FrameFeatures], fps: float, sound: SoundTrack, *, keep: int = 5
) -> list[Window]:
    """The best non-overlapping windows with one face, best first (empty: no face)."""
    duration = len(frames) / fps
    candidates: list[Window] = []
    for index in range(len(frames)):
        start = index / fps
        for span in WINDOW_SPANS:
            if start + span <= duration + 1e-6:
                window = score_range(frames, fps, sound, start, start + span)
                if window.faces == 1 and window.score > 0:
                    candidates.append(window)
    candidates.sort(key=lambda w: (-w.score, w.start))
    chosen: list[Window] = []
    for window in candidates:
        if all(window.end <= c.start or window.start >= c.end for c in chosen):
            chosen.append(window)
            if len(chosen) == keep:
                break
    return chosen
