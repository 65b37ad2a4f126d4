"""What page downloads check before and after yt-dlp runs, and the words they say."""

from __future__ import annotations

import logging
import re
import shutil
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from bot.domain.ranges import format_clock
from bot.i18n import N_
from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.net import dns
from bot.net.address_guard import UnsafeURLError, check_url_shape, is_public_address

FORMAT = "best[acodec!=none][vcodec!=none]/bestvideo*+bestaudio/best"
MAX_URL_HOPS = 3
PROBE_BYTES = 8 * 1024 * 1024
PLAYLIST_BYTES = 2 * 1024 * 1024
EXTINF = re.compile(r"^#EXTINF:\s*([0-9]+(?:\.[0-9]+)?)", re.MULTILINE)
OUTPUT_STEM = "section"

PLAYLIST = N_("That link is a playlist; send a link to one video.")
LIVE = N_("Live streams can't be used; send a recorded video.")
UNSUPPORTED = N_("That site isn't supported; send a direct link to a video file or attach it.")
FAILED = N_("Could not download the video from that page.")
TIMED_OUT = N_("Downloading the video took too long.")
NO_AUDIO = N_("That video has no sound; toapis needs an audio track to create a character.")
PRIVATE = N_("That link points to a private network address.")


@cache
def ffmpeg_path() -> str:
    """The ffmpeg on PATH, else the static binary bundled with imageio-ffmpeg."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


class LogSink:
    """yt-dlp's `logger` option: everything it says goes to our logger at DEBUG."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log

    def debug(self, msg: str) -> None:
        self._log.debug("yt-dlp: %s", msg)

    info = debug
    warning = debug
    error = debug


def check_remote(url: str, *, allow_private: bool) -> None:
    """Refuse a URL yt-dlp would fetch unless it is http(s) on a public host (blocking)."""
    try:
        host = check_url_shape(url, allow_private=allow_private)
    except UnsafeURLError as exc:
        kind = "private_address" if "private" in str(exc) else "download_failed"
        raise MediaError(kind, exc.text) from None
    if allow_private:
        return
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = dns.resolve_host(host, port)
    except OSError:
        raise MediaError(
            "download_failed", Text("The host `{host}` could not be found.", host=host[:80])
        ) from None
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise MediaError("private_address", PRIVATE)


def chosen_formats(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The format(s) yt-dlp selected for `info` (after processing)."""
    requested = info.get("requested_formats")
    if requested:
        return list(requested)
    return [info]


def check_info(info: dict[str, Any], end: float, *, max_duration: float, max_filesize: int) -> None:
    """Refuse live streams, too long or too big videos and ranges past the end."""
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        raise MediaError("live", LIVE)
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration > max_duration:
        raise MediaError(
            "too_long",
            Text(
                "That video is {length} long; the limit is {limit}.",
                length=format_clock(round(duration)),
                limit=format_clock(max_duration),
            ),
        )
    size = sum(
        int(f.get("filesize") or f.get("filesize_approx") or 0) for f in chosen_formats(info)
    )
    if size > max_filesize:
        raise MediaError(
            "too_big",
            Text(
                "That video is {size} MB; the limit is {limit} MB.",
                size=round(size / 1048576),
                limit=round(max_filesize / 1048576),
            ),
        )
    if isinstance(duration, int | float) and end > duration + 0.05:
        raise MediaError(
            "range_outside",
            Text(
                "The video is only {length} long; pick a range inside it.",
                length=format_clock(round(duration, 1)),
            ),
        )
