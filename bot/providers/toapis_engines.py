"""The toapis calls for the engines beyond sora-2 (docs/engines.md, sections 1, 2 and 4):
image uploads, Seedance 2 private-avatar groups and assets, and finding a video task by our
`client_business_id`. Mixed into `bot.providers.toapis.ToapisClient`, which owns the
HTTP plumbing and the budgets (uploads, groups and assets count as submits, asset reads and
task reads as queries).

Group and asset creation are retried like queries: a duplicate group or asset costs nothing
and is never used. Uploaded URLs never reach a log or an error's text (`redact_urls`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from bot.providers.avatars import (
    AvatarAsset,
    UploadedImage,
    field_of,
    has_url,
    redact_urls,
    says_face_refused,
)
from bot.providers.base import (
    AssetRefusedError,
    AssetUnusableError,
    ContentPolicyError,
    FaceRefusedError,
    ImageUnreadableError,
    ImageUrlsRequiredError,
    InvalidRequestError,
    ProviderError,
    ServiceUnavailableError,
    Task,
    TaskNotFoundError,
    UploadRejectedError,
)
from bot.providers.engines import Engine
from bot.providers.video import VideoRequest

GENERAL_PAGE = "/v1/videos/generations/"
IMAGE_UPLOADS = "/v1/uploads/images"
AVATAR_PATH = "/v1/videos/doubao-seedance-2-0/private-avatar"
AVATAR_GROUPS = AVATAR_PATH + "/groups"
AVATAR_ASSETS = AVATAR_PATH + "/assets"
_ASKS_FOR_IMAGE_URLS = re.compile(r"image_urls\b.{0,40}\b(?:required|missing|needed)", re.I)
# Vidu could not read an uploaded image (its URL expired): the images are uploaded again.
_IMAGE_UNREADABLE = re.compile(
    r"image.{0,200}(?:cannot|could not|can't|unable to) be (?:read|fetched|downloaded)"
    r"|(?:failed|unable) to (?:read|fetch|download) (?:the )?image",
    re.IGNORECASE,
)
_ASSET_UNUSABLE = re.compile(r"asset\b.{0,80}\bnot (?:found|active|ready)", re.I)


def redact_error(error: ProviderError) -> None:
    """Take any URL out of the error's text (the service may quote the URLs sent)."""
    if error.detail and has_url(error.detail):
        clean = redact_urls(error.detail)
        error.detail = clean
        error.args = (clean,)
        error.user_message = redact_urls(error.user_message)


class EngineCalls:
    """Uploads, private avatars and business-id lookups (see `ToapisClient`)."""

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: Callable[[], dict[str, Any]] | None = None,
        form: dict[str, str] | None = None,
        idempotent: bool = True,
    ) -> Any:
        raise NotImplementedError

    def _remember_page(self, task_id: str, page: str) -> None:
        raise NotImplementedError

    async def _call_redacted(self, method: str, path: str, **kwargs: Any) -> Any:
        """`_call`, with any URL taken out of the error it raises."""
        try:
            return await self._call(method, path, **kwargs)
        except UploadRejectedError as exc:
            if path == IMAGE_UPLOADS:
                raise
            # `{"success": false}` with a 400 reads as an upload refusal; here it is not one.
            raise InvalidRequestError(redact_urls(exc.detail), status=exc.status) from None
        except ProviderError as exc:
            redact_error(exc)
            raise

    async def upload_image(self, data: bytes, *, filename: str, mime: str) -> UploadedImage:
        """`POST /v1/uploads/images` (multipart `file`: JPEG, PNG, WebP or GIF, at most
        10 MB); the image's public URL, which generation requests and assets take."""

        def files() -> dict[str, Any]:
            return {"file": (filename, io.BytesIO(data), mime)}

        answer = await self._call_redacted("POST", IMAGE_UPLOADS, files=files)
        if not isinstance(answer, dict) or not answer.get("success", True):
            message = answer.get("message") if isinstance(answer, dict) else None
            raise UploadRejectedError(redact_urls(str(message or "")))
        try:
            return UploadedImage.model_validate(answer.get("data"))
        except ValidationError as exc:
            raise ServiceUnavailableError(
                f"unreadable upload answer: {exc.error_count()} errors"
            ) from None

    async def create_avatar_group(self, name: str, description: str | None = None) -> str:
        """A new Seedance 2 private-avatar group; its `group_id`."""
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        answer = _succeeded(await self._call_redacted("POST", AVATAR_GROUPS, json=body))
        group_id = field_of(answer, "group_id", "id")
        if group_id is None:
            raise ServiceUnavailableError("unreadable group answer: no group_id")
        return group_id

    async def create_avatar_asset(
        self, group_id: str, source_url: str, *, name: str | None = None
    ) -> AvatarAsset:
        """An image asset in `group_id` made from `source_url` (processed in the background:
        follow it with `get_avatar_asset`). A face refused at once raises `FaceRefusedError`,
        another refusal of the image `AssetRefusedError`."""
        body: dict[str, Any] = {
            "group_id": group_id,
            "asset_type": "image",
            "source_url": source_url,
        }
        if name is not None:
            body["name"] = name
        try:
            answer = _succeeded(await self._call_redacted("POST", AVATAR_ASSETS, json=body))
        except InvalidRequestError as exc:
            if says_face_refused(None, exc.detail):
                raise FaceRefusedError(exc.detail, status=exc.status) from None
            if isinstance(exc, ContentPolicyError):
                raise AssetRefusedError(exc.detail, status=exc.status) from None
            raise
        asset_id = field_of(answer, "asset_id", "id")
        if asset_id is None:
            raise ServiceUnavailableError("unreadable asset answer: no asset_id")
        data = _data_of(answer) if isinstance(answer.get("data"), dict) else {}
        known = {"group_id": group_id, "asset_type": "image", "source_url": source_url}
        return self._asset({**known, "name": name, **data, "asset_id": asset_id})

    async def get_avatar_asset(self, asset_id: str) -> AvatarAsset:
        """The asset's state: PROCESSING, ACTIVE, or FAILED with the service's reason
        (`AvatarAsset.refusal()` is the error it means). Unknown: `TaskNotFoundError`."""
        path = f"{AVATAR_ASSETS}/{quote(asset_id, safe='')}"
        answer = _succeeded(await self._call_redacted("GET", path))
        return self._asset({"asset_id": asset_id, **_data_of(answer)})

    async def find_video_task(self, client_business_id: str) -> Task:
        """The video task created with this `client_business_id` (Seedance 2): whether a
        create request arrived. `TaskNotFoundError` when the service does not know it."""
        path = GENERAL_PAGE + quote(client_business_id, safe="")
        try:
            answer = await self._call_redacted("GET", path)
        except InvalidRequestError as exc:
            if "not found" in exc.detail.lower():
                raise TaskNotFoundError(exc.detail, status=exc.status) from None
            raise
        if isinstance(answer, dict) and answer.get("success") is False:
            raise TaskNotFoundError(str(answer.get("message") or ""))
        task = self._task(answer)
        self._remember_page(task.id, GENERAL_PAGE)
        return task

    @staticmethod
    def _task(data: Any) -> Task:
        raise NotImplementedError

    @staticmethod
    def _asset(data: dict[str, Any]) -> AvatarAsset:
        try:
            return AvatarAsset.model_validate(data)
        except ValidationError as exc:
            raise ServiceUnavailableError(
                f"unreadable asset answer: {exc.error_count()} errors"
            ) from None


def engine_refusal(request: VideoRequest, error: InvalidRequestError) -> InvalidRequestError:
    """The distinct error an engine's refusal of a video request means (else `error`):
    viduq3 asking for `image_urls`, or a Seedance `asset://` that is not usable."""
    detail = error.detail or ""
    engine = request.engine
    if engine is Engine.VIDU and not request.image_urls and _ASKS_FOR_IMAGE_URLS.search(detail):
        return ImageUrlsRequiredError(detail, status=error.status)
    if engine is Engine.SEEDANCE and _ASSET_UNUSABLE.search(detail):
        return AssetUnusableError(detail, status=error.status)
    if engine is Engine.VIDU and _IMAGE_UNREADABLE.search(detail):
        return ImageUnreadableError(redact_urls(detail), status=error.status)
    return error


def _succeeded(answer: Any) -> dict[str, Any]:
    """A JSON object answer; `success: false` is a refusal with its message."""
    if not isinstance(answer, dict):
        raise ServiceUnavailableError("unreadable answer: not a JSON object")
    if answer.get("success") is False:
        message = answer.get("message") or answer.get("error") or ""
        raise InvalidRequestError(redact_urls(str(message)))
    return answer


def _data_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer's `data` object, or the answer itself when it is not wrapped."""
    data = answer.get("data")
    return data if isinstance(data, dict) else answer
