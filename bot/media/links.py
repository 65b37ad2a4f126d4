"""Does a link point at a video? (auto-reaction decides with this; no network, no discord)

A link counts when its path ends in a video file name, or when yt-dlp has a specific
extractor for it (YouTube, TikTok, X, Reddit...). yt-dlp's catch-all `GenericIE`, which
claims every URL, does not count: a Google Docs link or a plain page is not a video.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.media.orders import VIDEO_SUFFIXES

MAX_URL = 2048


@functools.cache
def specific_extractors() -> tuple[Any, ...]:
    """yt-dlp's extractor classes minus the generic one, built once per process."""
    from yt_dlp.extractor import gen_extractor_classes

    return tuple(ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic")


def is_video_file_name(name: str) -> bool:
    """`clip.MP4`, `a/b.webm`: a file name with a video suffix."""
    return PurePosixPath(name.lower()).suffix in VIDEO_SUFFIXES


def has_video_file_name(url: str) -> bool:
    """The link's path ends in a video file name (`.../clip.mp4`)."""
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return False
    return is_video_file_name(path)


@functools.lru_cache(maxsize=4096)
def is_video_link(url: str) -> bool:
    """A video file link, or a page yt-dlp has a specific extractor for (cached per link).

    The first call compiles yt-dlp's URL patterns (a few hundred ms): call it off the
    event loop.
    """
    try:
        scheme = urlsplit(url).scheme
    except ValueError:  # "https://[::1" and other broken links
        return False
    if len(url) > MAX_URL or scheme not in ("http", "https"):
        return False
    if has_video_file_name(url):
        return True
    return any(ie.suitable(url) for ie in specific_extractors())
