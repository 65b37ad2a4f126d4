"""Video requests for the engines beyond sora-2, checked as docs/engines.md says:
Seedance 2 (`seedance-2`, `-fast`, `-mini`; reference images `asset://<id>` in
`image_with_roles`) and Vidu Q3 (`viduq3`, `metadata.subjects`). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

SEEDANCE = ("seedance-2", "seedance-2-fast", "seedance-2-mini")
VIDU = ("viduq3",)
ENGINE_MODELS = SEEDANCE + VIDU
SEEDANCE_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16", "adaptive")
VIDU_RATIOS = ("16:9", "9:16", "1:1")
VIDU_RESOLUTIONS = ("540p", "720p", "1080p")
MAX_REFERENCE_IMAGES = 9
MAX_SUBJECTS = 7
MAX_SUBJECT_IMAGES = 3
MAX_IMAGE_URLS = 7
MAX_VIDU_PROMPT = 5000
NEEDS_IMAGE_URLS = "Invalid request: image_urls is required for viduq3 (up to 7 reference images)"


@dataclass(frozen=True)
class EngineVideo:
    """A validated Seedance or Vidu video request."""

    model: str
    prompt: str
    duration: int
    aspect_ratio: str
    client_business_id: str | None = None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _duration(body: dict[str, Any], allowed: Collection[int], default: int) -> int | None:
    value = body.get("duration", default)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        return None
    return value


def _prompt(body: dict[str, Any]) -> str | None:
    prompt = body.get("prompt")
    return prompt if isinstance(prompt, str) and prompt.strip() else None


def validate_seedance(body: dict[str, Any], active: Collection[str]) -> EngineVideo | str:
    """Check a Seedance 2 request; the refusal message when it is refused."""
    model = str(body.get("model"))
    prompt = _prompt(body)
    if prompt is None:
        return "Invalid request: prompt is required"
    allowed = list(range(4, 16)) + ([] if model == "seedance-2-mini" else [0, -1])
    duration = _duration(body, allowed, 5)
    if duration is None:
        auto = "" if model == "seedance-2-mini" else ", or 0/-1 for automatic"
        return f"Invalid request: duration for {model} must be 4-15 seconds{auto}"
    ratio = body.get("aspect_ratio", "adaptive")
    if ratio not in SEEDANCE_RATIOS:
        return "Invalid request: aspect_ratio must be one of " + ", ".join(SEEDANCE_RATIOS)
    resolutions = ("480p", "720p", "1080p", "4k") if model == "seedance-2" else ("480p", "720p")
    if body.get("resolution", "720p") not in resolutions:
        return f"Invalid request: resolution for {model} must be one of " + ", ".join(resolutions)
    if "generate_audio" in body and not isinstance(body["generate_audio"], bool):
        return "Invalid request: generate_audio must be true or false"
    problem = _check_roles(body.get("image_with_roles"), "reference_image", active)
    problem = problem or _check_roles(body.get("video_with_roles"), "reference_video", active)
    if problem is not None:
        return problem
    business_id = body.get("client_business_id")
    if business_id is not None and (not isinstance(business_id, str) or not business_id):
        return "Invalid request: client_business_id must be a non-empty string"
    return EngineVideo(model, prompt, duration, str(ratio), business_id)


def _check_roles(entries: Any, role: str, active: Collection[str]) -> str | None:
    """Why a list of `{"url", "role"}` references is refused, or None."""
    if entries is None:
        return None
    field = "image_with_roles" if role == "reference_image" else "video_with_roles"
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return f"Invalid request: {field} must be a list of {{url, role}} objects"
    roles = {entry.get("role") for entry in entries}
    if role == "reference_image" and roles & {"first_frame", "last_frame"} and role in roles:
        return "Invalid request: reference images cannot be combined with first/last frames"
    if role == "reference_image" and len(entries) > MAX_REFERENCE_IMAGES:
        return f"Invalid request: at most {MAX_REFERENCE_IMAGES} reference images"
    allowed = (role, "first_frame", "last_frame") if role == "reference_image" else (role,)
    for entry in entries:
        url = entry.get("url")
        if entry.get("role") not in allowed:
            return f"Invalid request: role in {field} must be {role}"
        if isinstance(url, str) and url.startswith("asset://"):
            asset_id = url.removeprefix("asset://")
            if asset_id not in active:
                return f"Invalid request: asset {asset_id} not found or not active"
        elif not _is_url(url):
            return f"Invalid request: url in {field} must be asset://<asset_id> or an http(s) URL"
    return None


def validate_vidu(body: dict[str, Any], *, needs_image_urls: bool) -> EngineVideo | str:
    """Check a Vidu Q3 request; the refusal message when it is refused."""
    prompt = _prompt(body)
    if prompt is None:
        return "Invalid request: prompt is required"
    if len(prompt) > MAX_VIDU_PROMPT:
        return f"Invalid request: prompt must be at most {MAX_VIDU_PROMPT} characters"
    duration = _duration(body, range(3, 17), 5)
    if duration is None:
        return "Invalid request: duration for viduq3 must be 3-16 seconds"
    ratio = body.get("aspect_ratio", "16:9")
    if ratio not in VIDU_RATIOS:
        return "Invalid request: aspect_ratio must be one of " + ", ".join(VIDU_RATIOS)
    if body.get("resolution", "720p") not in VIDU_RESOLUTIONS:
        return "Invalid request: resolution must be one of " + ", ".join(VIDU_RESOLUTIONS)
    if "audio" in body and not isinstance(body["audio"], bool):
        return "Invalid request: audio must be true or false"
    metadata = body.get("metadata", {})
    subjects = metadata.get("subjects") if isinstance(metadata, dict) else None
    problem = _check_subjects(subjects)
    if problem is not None:
        return problem
    image_urls = body.get("image_urls")
    if image_urls is not None and (
        not isinstance(image_urls, list)
        or len(image_urls) > MAX_IMAGE_URLS
        or not all(_is_url(url) for url in image_urls)
    ):
        return f"Invalid request: image_urls must be a list of at most {MAX_IMAGE_URLS} URLs"
    if needs_image_urls and not image_urls:
        return NEEDS_IMAGE_URLS
    return EngineVideo("viduq3", prompt, duration, str(ratio))


def _check_subjects(subjects: Any) -> str | None:
    """Why `metadata.subjects` is refused, or None (absent is allowed)."""
    if subjects is None:
        return None
    if not isinstance(subjects, list) or len(subjects) > MAX_SUBJECTS:
        return f"Invalid request: metadata.subjects must be a list of at most {MAX_SUBJECTS}"
    for subject in subjects:
        name = subject.get("name") if isinstance(subject, dict) else None
        images = subject.get("images") if isinstance(subject, dict) else None
        if not isinstance(name, str) or not name.strip():
            return "Invalid request: each subject needs a name"
        if (
            not isinstance(images, list)
            or not 1 <= len(images) <= MAX_SUBJECT_IMAGES
            or not all(_is_url(url) for url in images)
        ):
            return f"Invalid request: subject {name} needs 1-{MAX_SUBJECT_IMAGES} image URLs"
    return None
