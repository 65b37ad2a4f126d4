"""Uploaded images and Seedance 2 private-avatar assets as toapis answers them
(docs/engines.md, sections 1-2).

Tolerant like the task models: unknown fields are ignored, ids are read from `data` or the
top level, and an asset's `status` is read as one of three words. Uploaded URLs are public:
they are left out of `repr`, so a logged object never shows one.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.providers.base import AssetRefusedError, FaceRefusedError

FAILURE_WORDS = frozenset({"failed", "rejected", "failure", "error", "refused"})
# How a refusal of a real person's face may be worded: the simulator's code
# `face_not_allowed`, and the words third-party guides quote.
_FACE_CODE = re.compile(r"face|real_?person|human", re.IGNORECASE)
_URL = re.compile(r"\b(?:https?|asset)://\S+", re.IGNORECASE)
_FACE_WORDS = re.compile(r"\b(faces?|real (?:person|people|humans?)|human faces?)\b", re.IGNORECASE)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class UploadedImage(_Tolerant):
    """An image toapis now hosts at a public URL (never shown or logged)."""

    id: str
    url: str = Field(repr=False)
    mime_type: str | None = None
    size: int | None = None


class AssetStatus(StrEnum):
    """Where a private-avatar asset is: only an active one can be used in a video."""

    PROCESSING = "processing"
    ACTIVE = "active"
    FAILED = "failed"


class AvatarAsset(_Tolerant):
    """A private-avatar asset; `error_message` says why a FAILED one was refused."""

    asset_id: str
    group_id: str | None = None
    asset_type: str | None = None
    name: str | None = None
    source_url: str | None = Field(default=None, repr=False)
    status: AssetStatus = AssetStatus.PROCESSING
    error_code: str | None = None
    error_message: str = ""

    @model_validator(mode="before")
    @classmethod
    def _read(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        data = dict(value)
        if "asset_id" not in data and "id" in data:
            data["asset_id"] = data["id"]
        code, message = _error_of(data.get("error"))
        word = str(data.get("status") or "").strip().lower()
        if word == AssetStatus.ACTIVE and code is None and not message:
            data["status"] = AssetStatus.ACTIVE
        elif word in FAILURE_WORDS or code is not None or message:
            data["status"] = AssetStatus.FAILED
            message = message or str(data.get("message") or data.get("reason") or "")
        else:
            data["status"] = AssetStatus.PROCESSING
        data["error_code"], data["error_message"] = code, redact_urls(message)
        data.pop("error", None)
        return data

    @property
    def face_refused(self) -> bool:
        """Whether the service refused the image for showing a real person's face."""
        return self.status is AssetStatus.FAILED and says_face_refused(
            self.error_code, self.error_message
        )

    def refusal(self) -> AssetRefusedError | None:
        """The error a FAILED asset means (a `FaceRefusedError` for a face), else None."""
        if self.status is not AssetStatus.FAILED:
            return None
        kind = FaceRefusedError if self.face_refused else AssetRefusedError
        return kind(self.error_message, code=self.error_code)


def says_face_refused(code: str | None, message: str) -> bool:
    """Whether a refusal's code or words are about a real person's face."""
    return bool((code and _FACE_CODE.search(code)) or _FACE_WORDS.search(message))


def _error_of(error: Any) -> tuple[str | None, str]:
    """(code, message) of an `error` field: an object, a string, or nothing."""
    if isinstance(error, dict) and error:
        code = error.get("code")
        message = error.get("message")
        return (
            str(code) if code not in (None, "") else "error",
            message if isinstance(message, str) else "",
        )
    if isinstance(error, str) and error.strip():
        return "error", error.strip()
    return None, ""


def field_of(answer: Any, *names: str) -> str | None:
    """The first of `names` in the answer's `data` object, or at its top level."""
    for where in (answer.get("data") if isinstance(answer, dict) else None, answer):
        if isinstance(where, dict):
            for name in names:
                value = where.get(name)
                if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                    return str(value)
    return None


def redact_urls(text: str) -> str:
    """`text` with every URL replaced by `<url>` (uploaded URLs are public)."""
    return _URL.sub("<url>", text)


def has_url(text: str) -> bool:
    """Whether `text` holds a URL."""
    return _URL.search(text) is not None
