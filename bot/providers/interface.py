"""The character-provider interface: what any character service must offer.

toapis is the first implementation (`bot.providers.toapis`). Another service that offers the same
character API becomes a new module implementing `CharacterProvider`; nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.providers.account import Balance
from bot.providers.avatars import AvatarAsset, UploadedImage
from bot.providers.base import CharacterRequest, Task, UploadedVideo
from bot.providers.models import ModelAvailability
from bot.providers.video import VideoRequest


@runtime_checkable
class CharacterProvider(Protocol):
    """A service that turns a video moment into characters."""

    name: str

    @property
    def models(self) -> ModelAvailability:
        """Models the service refused recently (checked before anything is sent)."""
        ...

    async def create_character(self, request: CharacterRequest) -> Task:
        """Submit a character-creation task and return it as first answered.

        Raises `ModelUnavailableError` without a request when the model was refused
        recently, and when the service says the model is gone.
        """
        ...

    async def get_task(self, task_id: str) -> Task:
        """Return the task's current state."""
        ...

    async def create_video(self, request: VideoRequest) -> Task:
        """Submit a video-generation task, characters written the model's engine's way
        (`bot.providers.casting`).

        Raises `ImageUrlsRequiredError` when viduq3 asks for `image_urls` besides the
        subjects (send again with `request.with_first_images()`).
        """
        ...

    async def get_video_task(self, task_id: str) -> Task:
        """Return a video task's current state (the general task page)."""
        ...

    async def upload_video(self, path: Path, *, filename: str | None = None) -> UploadedVideo:
        """Host a local video file at a public URL the service can read."""
        ...

    async def upload_image(self, data: bytes, *, filename: str, mime: str) -> UploadedImage:
        """Host an image at a public URL (never to be shown or logged) that generation
        requests and avatar assets take."""
        ...

    async def create_avatar_group(self, name: str, description: str | None = None) -> str:
        """A new Seedance 2 private-avatar group; its id."""
        ...

    async def create_avatar_asset(
        self, group_id: str, source_url: str, *, name: str | None = None
    ) -> AvatarAsset:
        """An image asset made from `source_url`, processed in the background.

        Raises `FaceRefusedError` when the service refuses a real person's face at once
        (it may also refuse later: see `get_avatar_asset`).
        """
        ...

    async def get_avatar_asset(self, asset_id: str) -> AvatarAsset:
        """The asset's state: PROCESSING, ACTIVE, or FAILED with the service's reason."""
        ...

    async def find_video_task(self, client_business_id: str) -> Task:
        """The video task created with this business id; `TaskNotFoundError` if none."""
        ...

    async def get_balance(self) -> Balance:
        """The account's credit; spends nothing (`ServiceUnavailableError` when the
        service does not give it)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
