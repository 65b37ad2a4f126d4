"""Moment suggestions: analyse a source through the media intake's readers, keep the
result for an hour under a short id (a button's custom_id only carries the id).

A direct link or attachment is read by a `CheckedReader` through the egress proxy, as
the intake reads it, so only the first 10 minutes' bytes are fetched. A page link is
read like the intake reads it: its progressive file by ranges, otherwise yt-dlp
downloads the first 10 minutes at most. Everything blocking runs on the media pool; the
analysis stops after 60 s of work ("pick a range").
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx

from bot.domain.records import SourceKind
from bot.i18n.text import Text
from bot.media.analysis import TOO_SLOW, Analysis, AnalysisLimits, analyse_container
from bot.media.clip_work import READ_CHUNK
from bot.media.errors import MediaError
from bot.media.intake import MediaIntake
from bot.media.orders import CreateOrder
from bot.media.page_resolve import ProgressiveFile
from bot.media.pages import download_page_section, resolve_page
from bot.media.probe import refuse_nested_open
from bot.media.reader import CheckedReader
from bot.media.scoring import Window
from bot.media.workers import LineWatcher
from bot.net.egress_proxy import EgressProxy

SUGGESTION_TTL = 3600.0
STORE_CAPACITY = 500


@dataclass
class Suggestion:
    """A source, its ranked windows and their contact sheets, kept for an hour."""

    id: str
    order: CreateOrder  # the source (its range is a placeholder)
    guild_id: int
    requester_id: int
    windows: list[Window]
    sheets: list[bytes] = field(repr=False)
    seconds: float  # how much of the source was analysed
    meta: dict[str, Any] | None = None
    created: float = field(default_factory=time.monotonic)


class SuggestionStore:
    """Suggestions by id, in memory, for `ttl` seconds (the oldest go first when full)."""

    def __init__(self, ttl: float = SUGGESTION_TTL, capacity: int = STORE_CAPACITY) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._items: OrderedDict[str, Suggestion] = OrderedDict()

    def put(self, suggestion: Suggestion) -> None:
        """Keep `suggestion` (its id must be new)."""
        self._prune()
        self._items[suggestion.id] = suggestion
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, suggestion_id: str) -> Suggestion | None:
        """The live suggestion with this id, or None (unknown or expired)."""
        self._prune()
        return self._items.get(suggestion_id)

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, s in self._items.items() if now - s.created > self.ttl]:
            del self._items[key]


def new_id() -> str:
    """A short id for a custom_id (12 url-safe characters)."""
    return secrets.token_urlsafe(9)


class Suggester:
    """Runs analyses on the intake's media pool and keeps their results."""

    def __init__(
        self,
        intake: MediaIntake,
        *,
        limits: AnalysisLimits | None = None,
        store: SuggestionStore | None = None,
    ) -> None:
        self.intake = intake
        self.limits = limits or AnalysisLimits()
        self.store = store or SuggestionStore()

    async def analyse(self, order: CreateOrder, watcher: LineWatcher | None = None) -> Analysis:
        """Analyse the order's source; raises `MediaError` (a user-facing message)."""
        if order.url is None:
            raise MediaError("no_video", Text("There is no video to look at: give a range."))
        if order.kind is SourceKind.PAGE:
            return await self._analyse_page(order.url, watcher)
        return await self._analyse_url(order.url, None, watcher)

    async def suggest(
        self,
        order: CreateOrder,
        *,
        guild_id: int,
        requester_id: int,
        meta: dict[str, Any] | None = None,
        watcher: LineWatcher | None = None,
    ) -> tuple[Suggestion, Analysis]:
        """Analyse, draw the sheets of the ranked windows and keep them under a new id."""
        analysis = await self.analyse(order, watcher)
        sheets = await self.intake.workers.media.run(
            lambda: [analysis.sheet(w) for w in analysis.windows]
        )
        suggestion = Suggestion(
            id=new_id(),
            order=order,
            guild_id=guild_id,
            requester_id=requester_id,
            windows=analysis.windows,
            sheets=sheets,
            seconds=analysis.seconds,
            meta=meta,
        )
        self.store.put(suggestion)
        return suggestion, analysis

    async def _analyse_url(
        self, url: str, source: ProgressiveFile | None, watcher: LineWatcher | None
    ) -> Analysis:
        cancel = threading.Event()
        async with EgressProxy(allow_private=self.intake.allow_private) as proxy:
            proxy_url = proxy.url
            return await self.intake.workers.media.run(
                lambda: self._read(url, source, proxy_url, cancel),
                cancel=cancel,
                watcher=watcher,
            )

    def _read(
        self,
        url: str,
        source: ProgressiveFile | None,
        proxy_url: str | None,
        cancel: threading.Event,
    ) -> Analysis:
        """Blocking: open through a checked reader and analyse."""
        started = time.monotonic()
        limits = {"max_bytes": source.max_bytes} if source is not None else {}
        reader = CheckedReader(
            url,
            allow_private=self.intake.allow_private,
            timeout=self.limits.time_limit,
            chunk_size=READ_CHUNK * 4,
            max_download_bytes=2 * 1024**3,  # bounded by the 10 minutes and the 60 s
            transport=httpx.HTTPTransport(proxy=proxy_url) if proxy_url else None,
            headers=source.headers if source is not None else None,
            **limits,
        )
        try:
            try:
                container = av.open(reader, mode="r", io_open=refuse_nested_open)
            except Exception:
                raise reader.error or MediaError(
                    "not_a_video", Text("That file is not a video.")
                ) from None
            try:
                return analyse_container(container, self.limits, cancel=cancel, started=started)
            except MediaError:
                raise
            except Exception:
                if reader.error is not None and "took too long" in str(reader.error):
                    raise MediaError("analysis_timeout", TOO_SLOW) from None
                raise reader.error or MediaError(
                    "analysis_failed", Text("Could not read that video.")
                ) from None
            finally:
                container.close()
        finally:
            reader.close()

    async def _analyse_page(self, url: str, watcher: LineWatcher | None) -> Analysis:
        intake = self.intake
        page = await resolve_page(
            url,
            0,
            1,
            allow_private=intake.allow_private,
            margin=0,
            timeout=self.limits.time_limit,
            probe_progressive=False,
            pool=intake.workers.pages,
            watcher=watcher,
        )
        if page.progressive is not None:
            return await self._analyse_url(page.progressive.url, page.progressive, watcher)
        until = min(self.limits.max_seconds, page.duration or self.limits.max_seconds)
        workspace = Path(tempfile.mkdtemp(prefix="suggest-page-", dir=intake.workdir))
        try:
            section = await download_page_section(
                url,
                0,
                until,
                workdir=workspace,
                allow_private=intake.allow_private,
                margin=0,
                timeout=self.limits.time_limit,
                resolved=page,
                pool=intake.workers.pages,
                watcher=watcher,
            )
            return await intake.workers.media.run(lambda: self._local(section.path))
        finally:
            await asyncio.to_thread(shutil.rmtree, workspace, ignore_errors=True)

    def _local(self, path: Path) -> Analysis:
        with av.open(str(path), mode="r") as container:
            return analyse_container(container, self.limits)
