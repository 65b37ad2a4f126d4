"""The character-provider interface: what any character service must offer.

toapis is the first implementation (`bot.providers.toapis`). Another service that offers the same
character API becomes a new module implementing `CharacterProvider`; nothing else changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.providers.account import Balance
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
        """Submit a video-generation task (characters named as `@username` in the prompt)."""
        ...

    async def get_video_task(self, task_id: str) -> Task:
        """Return a video task's current state (the general task page)."""
        ...

    async def upload_video(self, path: Path, *, filename: str | None = None) -> UploadedVideo:
        """Host a local video file at a public URL the service can read."""
        ...

    async def get_balance(self) -> Balance:
        """The account's credit; spends nothing (`ServiceUnavailableError` when the
        service does not give it)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
