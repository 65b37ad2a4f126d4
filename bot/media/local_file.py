"""A video file on this machine, read like a `CheckedReader` reads a link (for the owner's
command line: `bot.media.orders.local_order`)."""

from __future__ import annotations

import io
from pathlib import Path

from bot.media.errors import MediaError


class LocalFile(io.FileIO):
    """A local file with what the intake asks of a reader: its size, the bytes read so far
    and the reading error (never one: a local read fails loudly)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.size: int | None = path.stat().st_size
        self.bytes_read = 0
        self.error: MediaError | None = None

    def read(self, size: int | None = -1) -> bytes:
        """Read and count."""
        data = super().read(size)
        self.bytes_read += len(data or b"")
        return data or b""
