"""The moment suggestion's analysis: faces, speech, ranking, limits, reading through the
intake's checked reader."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from bot.media.analysis import AnalysisLimits, analyse_container
from bot.media.errors import MediaError
from bot.media.intake import MediaIntake
from bot.media.orders import plan_order
from bot.media.scoring import CASCADES, ENVELOPE_RATE, SoundTrack, cascade
from bot.media.suggestions import Suggester, SuggestionStore
from bot.media.workers import MediaWorkers


def analyse(path: Path, limits: AnalysisLimits | None = None):
    with av.open(str(path)) as container:
        return analyse_container(container, limits or AnalysisLimits())


def test_every_cascade_used_ships_with_opencv():
    for kind in CASCADES:
        assert not cascade(kind).empty()


def envelope_track(signal: np.ndarray, rate: int = 16000) -> SoundTrack:
    blocks = signal[: signal.size // 160 * 160].reshape(-1, 160)
    env = np.sqrt((blocks**2).mean(axis=1)).astype(np.float32)
    seconds = signal.size // rate
    voice = []
    for s in range(seconds):
        part = signal[s * rate : (s + 1) * rate]
        power = np.abs(np.fft.rfft(part)) ** 2
        freqs = np.fft.rfftfreq(part.size, 1 / rate)
        voice.append(power[(freqs >= 100) & (freqs <= 4000)].sum() / (power.sum() + 1e-12))
    return SoundTrack(envelope=env, voice_share=np.asarray(voice, np.float32))


def test_speech_measure_accepts_syllable_rate_voice_and_refuses_noise_and_tones():
    t = np.arange(16000 * 3) / 16000
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    voice = 0.12 * sum(np.sin(2 * np.pi * f * t) for f in (200, 400, 600)) * syllables
    rng = np.random.default_rng(1)
    assert envelope_track(voice).describe(0, 3) == "speech"
    assert envelope_track(0.03 * rng.uniform(-1, 1, t.size)).describe(0, 3) == "sound"
    assert envelope_track(0.3 * np.sin(2 * np.pi * 300 * t)).describe(0, 3) == "sound"
    assert envelope_track(np.zeros(t.size)).describe(0, 3) == "silence"
    assert ENVELOPE_RATE == 100


def test_the_suggestion_lands_where_the_face_speaks(face_video: Path):
    analysis = analyse(face_video)
    best = analysis.windows[0]
    assert best.start >= 4 and best.end <= 9
    assert 1 <= best.end - best.start <= 3
    assert best.reasons.startswith("one face, ") and best.reasons.endswith("speech")
    assert analysis.judge(0, 3).faces == 0 and analysis.judge(0, 3).audio == "sound"
    sheet = analysis.sheet(best)
    assert sheet.startswith(b"\xff\xd8")


def test_one_face_beats_two(two_faces_video: Path):
    analysis = analyse(two_faces_video)
    assert analysis.judge(3, 6).faces == 2
    best = analysis.windows[0]
    assert best.start >= 9 and best.end <= 13.01 and best.faces == 1


def test_no_face_means_no_window(short_video: Path):
    assert analyse(short_video).windows == []


def test_only_the_first_minutes_are_looked_at(face_video: Path):
    analysis = analyse(face_video, AnalysisLimits(max_seconds=3))
    assert analysis.seconds == 3 and analysis.windows == []


def test_the_time_limit_stops_the_analysis(face_video: Path):
    with pytest.raises(MediaError, match="took too long"):
        analyse(face_video, AnalysisLimits(time_limit=0))


async def test_suggester_reads_a_link_through_the_checked_reader_and_keeps_the_result(
    media_server: str, face_video: Path
):
    intake = MediaIntake(None, allow_private=True, workers=MediaWorkers.create(1))  # type: ignore[arg-type]
    try:
        suggester = Suggester(intake, store=SuggestionStore(ttl=60))
        order = plan_order(
            url=f"{media_server}/{face_video.name}", start=0, end=1, allow_private=True
        )
        suggestion, _analysis = await suggester.suggest(order, guild_id=1, requester_id=2)
        assert suggester.store.get(suggestion.id) is suggestion
        assert len(suggestion.id) <= 16 and len(suggestion.sheets) == len(suggestion.windows)
        assert suggestion.windows[0].start >= 4 and suggestion.windows[0].end <= 9
        assert intake.workers.media.busy == 0
        expired = SuggestionStore(ttl=0)
        expired.put(suggestion)
        assert expired.get(suggestion.id) is None
    finally:
        intake.workers.shutdown()
