"""Reading a page with yt-dlp without downloading it: what video it holds, and is it allowed.

`PageJob.resolve` extracts the page (following url results only to checked URLs), lets
yt-dlp pick a format, and refuses playlists, live streams, long or big videos, ranges
outside the video, silent videos and any media URL that points into a private network.
It returns a `ResolvedPage`; when the chosen format is one progressive http(s) file
(picture and sound in one file), `ResolvedPage.progressive` says where it is, so the
caller can read just the range it needs, as for a direct link.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from yt_dlp.utils import DownloadError, UnsupportedError, download_range_func

from bot.i18n.text import Text
from bot.media.errors import MediaError
from bot.media.page_checks import (
    EXTINF,
    FAILED,
    FORMAT,
    LIVE,
    MAX_URL_HOPS,
    NO_AUDIO,
    OUTPUT_STEM,
    PLAYLIST,
    PLAYLIST_BYTES,
    PROBE_BYTES,
    TIMED_OUT,
    UNSUPPORTED,
    LogSink,
    check_info,
    check_remote,
    chosen_formats,
    ffmpeg_path,
)
from bot.media.probe import probe_url
from bot.media.reader import CheckedReader

# Request headers of a format that are passed on when the file is read directly: they
# identify the client and the page; nothing that carries credentials.
FORWARDED_HEADERS = frozenset({"user-agent", "referer", "origin", "accept-language"})


@dataclass(frozen=True)
class ProgressiveFile:
    """A single http(s) file holding picture and sound, readable by byte ranges."""

    url: str
    headers: dict[str, str]  # the format's own request headers (see FORWARDED_HEADERS)
    max_bytes: int  # the page's file size limit


@dataclass(frozen=True)
class ResolvedPage:
    """What reading a page found (checked, nothing downloaded but probes)."""

    info: dict[str, Any]  # yt-dlp's processed info; formats narrowed to the checked choice
    title: str | None
    duration: float | None  # duration of the whole source video, if known
    extractor: str
    progressive: ProgressiveFile | None  # set when the choice is one progressive file


@dataclass
class PageJob:
    """One page, handled synchronously in a worker thread."""

    url: str
    start: float
    end: float
    allow_private: bool
    margin: float
    max_duration: float
    max_filesize: int
    timeout: float
    log: logging.Logger
    workdir: Path | None = None  # where a section download writes (None: resolve only)
    # False: a progressive file is not probed here; whoever reads it next reads its header
    # once for both (and checks streams, duration, range and size as `_probe` would).
    probe_progressive: bool = True
    proxy_url: str | None = None  # every yt-dlp/ffmpeg/probe fetch goes through it
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def socket_timeout(self) -> float:
        """Per-connection timeout for yt-dlp and ffmpeg."""
        return max(5.0, min(30.0, self.timeout / 4))

    def options(self) -> dict[str, Any]:
        """yt-dlp parameters: quiet, single video, section only, bounded."""
        section = (max(0.0, self.start - self.margin), self.end + self.margin)
        options: dict[str, Any] = {
            "quiet": True,
            "noprogress": True,
            "logger": LogSink(self.log),
            "noplaylist": True,
            "lazy_playlist": True,
            "format": FORMAT,
            "download_ranges": download_range_func(None, [section]),
            "force_keyframes_at_cuts": True,
            "ffmpeg_location": ffmpeg_path(),
            "max_filesize": self.max_filesize,
            "socket_timeout": self.socket_timeout,
            "retries": 1,
            "fragment_retries": 1,
            "extractor_retries": 1,
            "cachedir": False,
            "overwrites": True,
            "progress_hooks": [self._hook],
            # FFmpegFD hands this to ffmpeg as `http_proxy` (HLS segments, keys, maps).
            "proxy": self.proxy_url,
            "external_downloader_args": {
                "ffmpeg_i": ["-rw_timeout", str(int(self.socket_timeout * 1_000_000))],
                "ffmpeg_o": ["-fs", str(self.max_filesize)],
            },
        }
        if self.workdir is not None:
            options["outtmpl"] = {"default": str(self.workdir / f"{OUTPUT_STEM}.%(ext)s")}
        return options

    def _hook(self, status: dict[str, Any] | None = None) -> None:
        """Stop at the next step (or progress report) once the caller gave up."""
        if self.cancelled.is_set():
            raise MediaError("download_failed", TIMED_OUT)

    def resolve(self, ydl: Any) -> ResolvedPage:
        """Extract, process (no download) and check; formats narrowed to the choice."""
        info = self._extract(ydl)
        self._hook()
        info = ydl.process_ie_result(info, download=False)
        self._hook()
        self._check_processed(info)
        self._hook()
        chosen = chosen_formats(info)
        chosen_ids = {f.get("format_id") for f in chosen}
        # Only the checked format(s) are left to pick from when downloading.
        info["formats"] = [f for f in info.get("formats") or [] if f.get("format_id") in chosen_ids]
        duration = info.get("duration")
        return ResolvedPage(
            info=info,
            title=info.get("title"),
            duration=float(duration) if isinstance(duration, int | float) else None,
            extractor=str(info.get("extractor") or info.get("extractor_key") or "unknown"),
            progressive=self._progressive(info),
        )

    def _extract(self, ydl: Any) -> dict[str, Any]:
        """Page info without processing; follows url results only to checked URLs."""
        info: dict[str, Any] = ydl.extract_info(self.url, download=False, process=False)
        for _ in range(MAX_URL_HOPS):
            kind = info.get("_type", "video")
            if kind in ("playlist", "multi_video"):
                raise MediaError("playlist", PLAYLIST)
            if kind not in ("url", "url_transparent"):
                return info
            target = str(info.get("url") or "")
            check_remote(target, allow_private=self.allow_private)
            outer = info
            info = ydl.extract_info(
                target, download=False, process=False, ie_key=info.get("ie_key")
            )
            if kind == "url_transparent":
                for key in ("title", "duration", "is_live", "live_status"):
                    if outer.get(key) is not None and info.get(key) is None:
                        info[key] = outer[key]
        raise MediaError("download_failed", FAILED)

    def _check_processed(self, info: dict[str, Any]) -> None:
        if info.get("_type", "video") != "video":
            raise MediaError("playlist", PLAYLIST)
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)
        chosen = chosen_formats(info)
        for fmt in chosen:
            for key in ("url", "manifest_url"):
                if fmt.get(key):
                    check_remote(str(fmt[key]), allow_private=self.allow_private)
        if all(fmt.get("acodec") == "none" for fmt in chosen):
            raise MediaError("no_audio", NO_AUDIO)
        unknown = info.get("duration") is None or any(f.get("acodec") is None for f in chosen)
        protocol = chosen[0].get("protocol") if len(chosen) == 1 else None
        if unknown and protocol in ("http", "https"):
            if not self.probe_progressive and self._progressive(info) is not None:
                return
            self._probe(info, str(chosen[0]["url"]), forwarded_headers(chosen[0]))
        elif info.get("duration") is None and protocol in ("m3u8", "m3u8_native"):
            self._hls_duration(info, str(chosen[0]["url"]))

    def _transport(self) -> httpx.HTTPTransport | None:
        return httpx.HTTPTransport(proxy=self.proxy_url) if self.proxy_url else None

    def _hls_duration(self, info: dict[str, Any], playlist_url: str) -> None:
        """Sum a media playlist's segment lengths (ffmpeg seeks past the end silently)."""
        reader = CheckedReader(
            playlist_url,
            allow_private=self.allow_private,
            max_bytes=PLAYLIST_BYTES,
            max_download_bytes=PLAYLIST_BYTES,
            timeout=min(self.timeout, 30.0),
            transport=self._transport(),
        )
        try:
            text = reader.read().decode("utf-8", "replace")
        finally:
            reader.close()
        if "#EXT-X-STREAM-INF" in text:
            return  # a master playlist: no segment lengths here
        if "#EXT-X-ENDLIST" not in text:
            raise MediaError("live", LIVE)
        info["duration"] = sum(float(m) for m in EXTINF.findall(text))
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)

    def _probe(self, info: dict[str, Any], media_url: str, headers: dict[str, str]) -> None:
        """Fill in duration and audio for a direct file by reading its header only."""
        media = probe_url(
            media_url,
            allow_private=self.allow_private,
            max_download_bytes=PROBE_BYTES,
            timeout=min(self.timeout, 30.0),
            transport=self._transport(),
            headers=headers,
        )
        if not media.has_video:
            raise MediaError("not_a_video", Text("That page's file is not a video."))
        if not media.has_audio:
            raise MediaError("no_audio", NO_AUDIO)
        if media.duration is not None:
            info["duration"] = media.duration
        if media.size is not None and not info.get("filesize"):
            info["filesize"] = media.size
        check_info(info, self.end, max_duration=self.max_duration, max_filesize=self.max_filesize)

    def translate(self, exc: DownloadError) -> MediaError:
        """The user-facing error for a yt-dlp failure."""
        cause = exc.exc_info[1] if exc.exc_info else None
        if isinstance(cause, MediaError):
            return cause
        if isinstance(cause, UnsupportedError) or "Unsupported URL" in str(exc):
            return MediaError("unsupported_site", UNSUPPORTED)
        if self.cancelled.is_set():
            return MediaError("download_failed", TIMED_OUT)
        return MediaError("download_failed", FAILED)

    def _progressive(self, info: dict[str, Any]) -> ProgressiveFile | None:
        """The chosen format, when it is one plain http(s) file with picture and sound.

        Unknown codecs (None) count: the file's own header is read before it is cut.
        """
        if info.get("requested_formats") or info.get("fragments"):
            return None
        if info.get("protocol") not in ("http", "https") or not info.get("url"):
            return None
        if info.get("vcodec") == "none" or info.get("acodec") == "none":
            return None
        return ProgressiveFile(
            url=str(info["url"]),
            headers=forwarded_headers(info),
            max_bytes=self.max_filesize,
        )


def forwarded_headers(fmt: dict[str, Any]) -> dict[str, str]:
    """The format's request headers that are safe to send when reading it ourselves."""
    return {
        str(name): value
        for name, value in (fmt.get("http_headers") or {}).items()
        if str(name).lower() in FORWARDED_HEADERS
        and isinstance(value, str)
        and value.isprintable()
        and len(value) <= 1024
    }
