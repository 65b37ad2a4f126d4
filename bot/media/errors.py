"""The one error media intake raises; its `text` is shown to the user."""

from __future__ import annotations

from bot.i18n.text import Text, TextError


class MediaError(TextError):
    """A video we will not use; `text` is shown to the user (`str()`: English).

    `kind` is one of not_a_video, no_audio, too_long, too_big, private_address,
    download_failed, range_outside, or unreachable (no connection could be made).
    """

    def __init__(self, kind: str, message: Text | str) -> None:
        super().__init__(message)
        self.kind = kind
