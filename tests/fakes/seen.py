"""What a member sees of a message, in either form: content and embeds, or Components V2
text displays. Takes a stored message, a send/edit body or a recorded call."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.components_v2 import IS_COMPONENTS_V2, walk

Payload = dict[str, Any]
_FIELD = re.compile(r"\*\*(?P<name>[^*\n]+)\*\*\n(?P<value>.*)", re.DOTALL)


def body_of(seen: Any) -> Payload:
    """The message body of a message, a body, or a call (an interaction answer's `data`)."""
    body = getattr(seen, "json", seen)
    if not isinstance(body, dict):
        return {}
    data = body.get("data")
    return data if isinstance(data, dict) and "type" in body else body


def shown_text(seen: Any) -> str:
    """Every text a member reads, top to bottom, one block a line."""
    body = body_of(seen)
    parts = [str(body.get("content") or "")]
    for embed in body.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        for field in embed.get("fields") or []:
            parts += [str(field["name"]), str(field["value"])]
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
    for component in walk(body.get("components") or []):
        if component.get("type") == 10:
            parts.append(str(component.get("content") or ""))
    return "\n".join(part for part in parts if part)


def shown_fields(seen: Any) -> dict[str, str]:
    """Name -> value of every field: an embed's, or a V2 text display that is a bold name
    over its value."""
    body = body_of(seen)
    found = {
        str(field["name"]): str(field["value"])
        for embed in body.get("embeds") or []
        for field in embed.get("fields") or []
    }
    for component in walk(body.get("components") or []):
        match = _FIELD.fullmatch(str(component.get("content") or ""))
        if component.get("type") == 10 and match:
            found[match["name"]] = match["value"]
    return found


def shown_title(seen: Any) -> str:
    """The title: the first embed's, or a V2 message's first `### ` heading."""
    body = body_of(seen)
    for embed in body.get("embeds") or []:
        return str(embed.get("title") or "")
    for component in walk(body.get("components") or []):
        text = str(component.get("content") or "") if component.get("type") == 10 else ""
        if text.startswith("### "):
            return text.splitlines()[0][4:]
    return ""


def thumbnails(seen: Any) -> list[str]:
    """The URLs of the small images beside a message's title (embed or V2 section)."""
    body = body_of(seen)
    urls = [
        str(embed["thumbnail"]["url"])
        for embed in body.get("embeds") or []
        if embed.get("thumbnail")
    ]
    for component in walk(body.get("components") or []):
        if component.get("type") == 11:
            urls.append(str(component["media"]["url"]))
    return urls


def gallery_images(seen: Any) -> list[str]:
    """The URLs of the images a message shows large: embed images, V2 media gallery items."""
    body = body_of(seen)
    urls = [str(embed["image"]["url"]) for embed in body.get("embeds") or [] if embed.get("image")]
    for component in walk(body.get("components") or []):
        if component.get("type") == 12:
            urls += [str(item["media"]["url"]) for item in component.get("items") or []]
    return urls


def buttons(seen: Any) -> list[Payload]:
    """Every button of a message, wherever it sits."""
    return [c for c in walk(body_of(seen).get("components") or []) if c.get("type") == 2]


def is_v2(seen: Any) -> bool:
    """Whether the message (or body) is a Components V2 one."""
    return bool(int(body_of(seen).get("flags") or 0) & IS_COMPONENTS_V2)
