"""The one error media intake raises; its message is shown to the user as is."""

from __future__ import annotations


class MediaError(ValueError):
    """A video we will not use; the message is shown to the user as is.

    `kind` is one of not_a_video, no_audio, too_long, too_big, private_address,
    download_failed, range_outside, or unreachable (no connection could be made).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
