"""A prepared source as a job holds it: the request sent for it, and what the job keeps of
its source so "Create from same video" can fetch it again (and a job left preparing can be
prepared again): the kind, the link or task, the name shown, and the clip uploaded to
toapis where one was."""

from __future__ import annotations

from typing import Any

from bot.media.intake import PreparedSource
from bot.media.orders import CreateOrder
from bot.providers.base import CharacterRequest


def source_meta(order: CreateOrder, prepared: PreparedSource) -> dict[str, Any]:
    """What "Create from same video" needs to fetch the source again."""
    source: dict[str, Any] = {
        "kind": order.kind.value,
        "url": order.url,
        "from_task": order.from_task,
        "name": order.reference,
    }
    if prepared.uploaded and prepared.clip_offset is not None:
        source["clip_url"] = prepared.url
        source["clip_offset"] = prepared.clip_offset
        # The cut keeps a 1 s margin after the range (less at the very end of a video,
        # where the probe of the clip then explains the limit).
        source["clip_end"] = prepared.clip_offset + prepared.end + 1.0
    return {"source": source}


def prepared_request(order: CreateOrder, prepared: PreparedSource) -> CharacterRequest:
    """The create request for a prepared source (its times are the clip's, once cut)."""
    return CharacterRequest(
        model=order.model,
        start=prepared.start,
        end=prepared.end,
        url=prepared.url,
        from_task=prepared.from_task,
    )
