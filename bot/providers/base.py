"""What a character service answers and how it refuses: tasks, requests and errors.

The interface itself is `bot.providers.interface.CharacterProvider`. Models are tolerant:
unknown fields are ignored and optional fields may be missing, as `docs/toapis.md` asks for
the fields it marks unconfirmed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.i18n import N_
from bot.i18n.text import Text

MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro", "sora-2-vip")
DEFAULT_MODEL = "sora-2"


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TaskStatus(StrEnum):
    """Where a task is at the provider."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True once the task will not change any more."""
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED)


class CharacterInfo(_Tolerant):
    """One character a completed task produced."""

    id: str
    display_name: str = ""
    username: str = ""
    profile_picture_url: str | None = None


class TaskErrorInfo(_Tolerant):
    """Why a task failed; `code` is a number or a string depending on the page."""

    code: int | str | None = None
    message: str = ""
    type: str | None = None


class VideoInfo(_Tolerant):
    """One video a completed generation task produced (its URL lives 24 hours)."""

    url: str
    format: str | None = None


class _ResultData(_Tolerant):
    characters: list[CharacterInfo] = Field(default_factory=list)
    videos: list[VideoInfo] = Field(default_factory=list)


class TaskResult(_Tolerant):
    """The `result` of a completed task."""

    type: str | None = None
    data: _ResultData = Field(default_factory=_ResultData)

    @field_validator("data", mode="before")
    @classmethod
    def _tolerate_non_object(cls, value: Any) -> Any:
        # A video task answers `data` as a list of videos; a character task as an object.
        if isinstance(value, list):
            return {"videos": [v for v in value if isinstance(v, dict) and v.get("url")]}
        return value if isinstance(value, dict) else {}


class Task(_Tolerant):
    """A task object as the status endpoints answer it."""

    id: str
    object: str | None = None
    model: str | None = None
    status: TaskStatus
    progress: int = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    result: TaskResult | None = None
    error: TaskErrorInfo | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _tolerate_status(cls, value: Any) -> Any:
        # Unconfirmed wordings seen on other pages/providers map onto the four we know.
        text = str(value).strip().lower() if value is not None else ""
        aliases = {
            "pending": "queued",
            "submitted": "queued",
            "waiting": "queued",
            "processing": "in_progress",
            "running": "in_progress",
            "in-progress": "in_progress",
            "succeeded": "completed",
            "success": "completed",
            "done": "completed",
            "failure": "failed",
            "error": "failed",
            "cancelled": "failed",
            "canceled": "failed",
        }
        text = aliases.get(text, text)
        return text if text in {s.value for s in TaskStatus} else "in_progress"

    @field_validator("progress", mode="before")
    @classmethod
    def _clamp_progress(cls, value: Any) -> int:
        try:
            number = float(str(value).rstrip("%")) if value is not None else 0.0
        except ValueError:
            return 0
        return max(0, min(100, int(number)))

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_object(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}

    @property
    def characters(self) -> list[CharacterInfo]:
        """The characters of a completed task (empty otherwise)."""
        return list(self.result.data.characters) if self.result else []

    @property
    def videos(self) -> list[VideoInfo]:
        """The videos of a completed video task (empty otherwise)."""
        return list(self.result.data.videos) if self.result else []


class UploadedVideo(_Tolerant):
    """A file the provider now hosts at a public, stable URL."""

    id: str
    url: str
    mime_type: str | None = None
    size: int | None = None


class CharacterRequest(BaseModel):
    """What we ask for: a 1-3 s range of a video given by URL or by an earlier task."""

    model_config = ConfigDict(frozen=True)

    model: str = DEFAULT_MODEL
    start: float
    end: float
    url: str | None = None
    from_task: str | None = None


# --- errors ------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every provider failure; `user_message` is safe to show to a user."""

    user_message = N_("The video service answered with an error. Please try again later.")
    transient = False

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail or self.user_message)
        self.detail = detail
        self.status = status

    def _say(self, text: Text) -> None:
        """Set what the member reads: `user_message` in English, `user_text` to translate."""
        self._user_text = text
        self.user_message = str(text)

    @property
    def user_text(self) -> Text:
        """`user_message` in the member's language (as it is if it was changed since, e.g.
        with links taken out)."""
        said = getattr(self, "_user_text", None)
        if isinstance(said, Text) and str(said) == self.user_message:
            return said
        return Text(self.user_message)


class InvalidRequestError(ProviderError):
    """400/422: the service refused the request; its reason is shown in plain words."""

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail, status=status)
        reason = detail.removeprefix("Invalid request:").strip() if detail else ""
        self._say(
            Text("The video service refused this request: {reason}", reason=reason)
            if reason
            else Text("The video service refused this request.")
        )


class ContentPolicyError(InvalidRequestError):
    """422: the content policy was violated."""


class WebhookNotConfiguredError(InvalidRequestError):
    """400 `webhook_not_configured`: the key has no webhooks; nothing was created."""


class ModelUnavailableError(InvalidRequestError):
    """The service does not offer this model (any more, or right now)."""

    def __init__(self, model: str, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail, status=status)
        self.model = model
        self._say(
            Text(
                "{model} is not available from the service right now. "
                "Try another model, or try again later.",
                model=model,
            )
        )


class AuthenticationError(ProviderError):
    """401: the bot's API key is wrong; only the owner can fix it."""

    user_message = N_(
        "The bot's video-service key was refused. The bot owner has been told; "
        "please try again later."
    )


class PaymentRequiredError(ProviderError):
    """402: the account balance is empty."""

    user_message = N_(
        "The bot's video-service account is out of credit. Ask the bot owner to top it up."
    )


class TaskNotFoundError(ProviderError):
    """404: no such task (yet, or any more)."""

    user_message = N_("The video service does not know that task id.")


class RateLimitedError(ProviderError):
    """429/503: too many requests or the submit limiter is down; try again later."""

    user_message = N_("The video service is busy right now. The request will be retried.")
    transient = True

    def __init__(
        self, detail: str = "", *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.retry_after = retry_after


class ServiceUnavailableError(ProviderError):
    """5xx, connection trouble, timeouts or an unreadable answer: transient."""

    user_message = N_("The video service could not be reached. Please try again in a few minutes.")
    transient = True


class SubmissionUncertainError(ProviderError):
    """The create request was sent but no answer came: it may or may not exist."""

    user_message = N_(
        "The video service did not answer in time, so it is unknown whether the task "
        "was created. Check before retrying, to avoid paying twice."
    )


class UploadRejectedError(ProviderError):
    """The upload was refused (too large, unsupported type)."""

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        super().__init__(detail, status=status)
        self._say(
            Text("The video service refused the upload: {detail}", detail=detail)
            if detail
            else Text("The video service refused the upload.")
        )


class ImageUrlsRequiredError(InvalidRequestError):
    """400: viduq3 asks for `image_urls` besides the subjects; nothing was created, so the
    request may be sent once more with each subject's first image there."""


class ImageUnreadableError(InvalidRequestError):
    """400: Vidu could not read an image a request names (an uploaded URL that no longer
    lives); nothing was created, and the images can be uploaded again."""


class AssetUnusableError(InvalidRequestError):
    """400: a Seedance video names an `asset://` that is unknown or not active (yet);
    nothing was created."""


class AssetRefusedError(InvalidRequestError):
    """The service refused an image as a private-avatar asset; `detail` is its reason."""

    code: str | None = None

    def __init__(
        self, detail: str = "", *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail, status=status)
        self.code = code
        self._say(
            Text("The video service refused the image: {detail}", detail=detail)
            if detail
            else Text("The video service refused the image.")
        )


class FaceRefusedError(AssetRefusedError):
    """The service refuses real people's faces in private avatars (a real person needs
    the real-avatar verification, which the bot does not offer)."""

    def __init__(
        self, detail: str = "", *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail, status=status, code=code)
        self._say(Text("The video service refuses real people's faces for this engine."))
