"""The engine catalogue and video requests per engine, checked before anything is sent."""

from __future__ import annotations

import pytest

from bot.providers.engines import (
    VIDEO_MODELS,
    Engine,
    aspect_ratios,
    default_duration,
    duration_problem,
    engine_of,
    ratio_problem,
)
from bot.providers.video import (
    ImageRole,
    Subject,
    VideoMetadata,
    VideoRequest,
    is_video_request,
    request_problem,
)


def test_each_engine_has_a_plain_label_and_its_models():
    assert [engine.label for engine in Engine] == ["Sora 2", "Seedance 2", "Vidu Q3"]
    assert VIDEO_MODELS == (
        "sora-2",
        "sora-2-pro",
        "seedance-2",
        "seedance-2-fast",
        "seedance-2-mini",
        "viduq3",
    )
    assert {model: engine_of(model) for model in VIDEO_MODELS} == {
        "sora-2": Engine.SORA,
        "sora-2-pro": Engine.SORA,
        "seedance-2": Engine.SEEDANCE,
        "seedance-2-fast": Engine.SEEDANCE,
        "seedance-2-mini": Engine.SEEDANCE,
        "viduq3": Engine.VIDU,
    }
    assert engine_of("sora-2-vip") is Engine.SORA  # still accepted for characters
    assert engine_of("viduq3-pro") is None  # takes no subjects


def test_durations_per_model():
    assert default_duration("sora-2") == 10 and default_duration("sora-2-pro") == 15
    assert default_duration("seedance-2-mini") == 5 and default_duration("viduq3") == 5
    assert duration_problem("seedance-2", 4) is None and duration_problem("seedance-2", 15) is None
    assert str(duration_problem("seedance-2-fast", 16)) == (
        "seedance-2-fast makes videos of 4 to 15 s, not 16 s."
    )
    assert duration_problem("viduq3", 3) is None and duration_problem("viduq3", 16) is None
    assert str(duration_problem("viduq3", 2)) == "viduq3 makes videos of 3 to 16 s, not 2 s."
    assert str(duration_problem("sora-2", 12)) == "sora-2 makes videos of 10 s or 15 s, not 12 s."
    assert str(duration_problem("kling", 5)) == "kling cannot make videos."


def test_aspect_ratios_per_engine():
    assert aspect_ratios("sora-2-pro") == ("16:9", "9:16")
    assert set(aspect_ratios("seedance-2-mini")) == {"16:9", "9:16", "21:9", "4:3", "1:1", "3:4"}
    assert aspect_ratios("viduq3") == ("16:9", "9:16", "1:1")
    assert str(ratio_problem("viduq3", "21:9")) == (
        "viduq3 makes videos in 16:9, 9:16, 1:1, not 21:9."
    )
    assert ratio_problem("sora-2", "1:1") is not None
    assert ratio_problem("seedance-2", "21:9") is None


def seedance(**fields) -> VideoRequest:
    fields.setdefault("prompt", "the character from images 1-3 waves")
    return VideoRequest(model=fields.pop("model", "seedance-2"), duration=5, **fields)


def vidu(**fields) -> VideoRequest:
    fields.setdefault("prompt", "@Sky waves")
    return VideoRequest(model="viduq3", duration=fields.pop("duration", 5), **fields)


def subjects(*counts: int) -> VideoMetadata:
    return VideoMetadata(
        subjects=tuple(
            Subject(name=f"s{i}", images=tuple(f"https://i/{i}/{n}" for n in range(count)))
            for i, count in enumerate(counts)
        )
    )


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (VideoRequest(model="sora-2", prompt="x", duration=15), None),
        (VideoRequest(model="sora-2", prompt="x", duration=15, aspect_ratio="1:1"), "not 1:1"),
        (VideoRequest(model="sora-2", prompt=" ", duration=10), "The prompt is empty."),
        (VideoRequest(model="sora-2", prompt="x" * 2001, duration=10), "at most 2000"),
        (VideoRequest(model="veo-3", prompt="x", duration=8), "veo-3 cannot make videos."),
        (seedance(aspect_ratio="21:9", resolution="4k"), None),
        (seedance(model="seedance-2-mini", resolution="1080p"), "not 1080p"),
        (seedance(image_with_roles=(ImageRole(url="asset://a"),) * 9), None),
        (seedance(image_with_roles=(ImageRole(url="asset://a"),) * 10), "at most 9"),
        (seedance(image_with_roles=(ImageRole(url="x", role="first_frame"),)), "reference"),
        (vidu(metadata=subjects(3, 1, 2), aspect_ratio="1:1", duration=16), None),
        (vidu(metadata=subjects(*[1] * 8)), "at most 7 characters"),
        (vidu(metadata=subjects(4)), "1 to 3 images of each character, not 4"),
        (vidu(image_urls=("https://i",) * 8), "at most 7 reference images"),
        (vidu(prompt="x" * 5000), None),
        (vidu(prompt="x" * 5001), "at most 5000"),
        (vidu(resolution="480p"), "not 480p"),
    ],
)
def test_requests_are_checked_per_model(request_, problem):
    found = request_problem(request_)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_body_has_only_what_the_engine_takes():
    everything = {
        "prompt": "p",
        "duration": 5,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "image_with_roles": (ImageRole(url="asset://a"),),
        "generate_audio": False,
        "client_business_id": "biz-1",
        "metadata": subjects(1),
        "image_urls": ("https://i/0/0",),
        "audio": False,
    }
    common = {"prompt": "p", "duration": 5, "aspect_ratio": "16:9"}
    assert VideoRequest(model="sora-2", **everything).body() == {"model": "sora-2", **common}
    assert VideoRequest(model="seedance-2-fast", **everything).body() == {
        "model": "seedance-2-fast",
        **common,
        "resolution": "720p",
        "generate_audio": False,
        "client_business_id": "biz-1",
        "image_with_roles": [{"url": "asset://a", "role": "reference_image"}],
    }
    assert VideoRequest(model="viduq3", **everything).body() == {
        "model": "viduq3",
        **common,
        "resolution": "720p",
        "audio": False,
        "metadata": {"subjects": [{"name": "s0", "images": ["https://i/0/0"]}]},
        "image_urls": ["https://i/0/0"],
    }
    bare = VideoRequest(model="seedance-2", prompt="p", duration=5).body()
    assert bare == {"model": "seedance-2", **common}


def test_a_stored_request_reads_back_whatever_its_engine():
    stored = vidu(metadata=subjects(2, 1), resolution="1080p").model_dump(exclude_none=True)
    assert is_video_request(stored)
    again = VideoRequest.model_validate(stored)
    assert again == vidu(metadata=subjects(2, 1), resolution="1080p")
    seed = seedance(image_with_roles=(ImageRole(url="asset://a"),), client_business_id="b")
    assert VideoRequest.model_validate(seed.model_dump(exclude_none=True)) == seed
    old = {"model": "sora-2", "prompt": "@a.b", "duration": 10, "aspect_ratio": "9:16"}
    assert VideoRequest.model_validate(old).body() == old  # stored before engines


def test_first_images_are_added_for_vidu_when_asked():
    request = vidu(metadata=subjects(3, 2, 1))
    assert request.with_first_images().image_urls == (
        "https://i/0/0",
        "https://i/1/0",
        "https://i/2/0",
    )
    assert request.image_urls is None
