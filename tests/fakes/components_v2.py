"""Discord's rules for Components V2 messages, as the fake enforces them: with the flag,
no content or embeds, at most 40 components (nested ones count), media only at https or
at a file of the message, and a flag that cannot be removed once set."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

Payload = dict[str, Any]

IS_COMPONENTS_V2 = 1 << 15
MAX_COMPONENTS = 40


class InvalidFormBody(Exception):
    """A body Discord answers with `400 {"code": 50035, "message": "Invalid Form Body"}`."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.errors = {field: {"_errors": [{"code": code, "message": message}]}}


def check_send(body: Payload, file_names: Sequence[str]) -> None:
    """Refuse a new message's body as Discord would."""
    if int(body.get("flags") or 0) & IS_COMPONENTS_V2:
        _check_v2(body.get("content"), body.get("embeds"), body.get("components"), file_names)


def check_edit(message: Payload, body: Payload, file_names: Sequence[str]) -> None:
    """Refuse an edit of `message` as Discord would (`file_names`: the files the message
    has after the edit, those uploaded with it included)."""
    was_v2 = int(message.get("flags") or 0) & IS_COMPONENTS_V2
    if was_v2 and "flags" in body and not int(body["flags"] or 0) & IS_COMPONENTS_V2:
        raise InvalidFormBody(
            "flags", "MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG", "The flag cannot be removed."
        )
    if was_v2 or int(body.get("flags") or 0) & IS_COMPONENTS_V2:
        after = {key: body[key] if key in body else message.get(key) for key in _FIELDS}
        _check_v2(after["content"], after["embeds"], after["components"], file_names)


_FIELDS = ("content", "embeds", "components")


def _check_v2(content: Any, embeds: Any, components: Any, file_names: Sequence[str]) -> None:
    if content or embeds:
        raise InvalidFormBody(
            "content" if content else "embeds",
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used with IS_COMPONENTS_V2.",
        )
    tree = list(components or [])
    total = sum(1 for _ in walk(tree))
    if total > MAX_COMPONENTS:
        raise InvalidFormBody(
            "components", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_COMPONENTS} or fewer in length."
        )
    for component in walk(tree):
        for url in _media_urls(component):
            name = url.removeprefix("attachment://")
            if not url.startswith("https://") and (url == name or name not in file_names):
                raise InvalidFormBody(
                    "components", "UNFURLED_MEDIA_ITEM_INVALID", f"Invalid media url {url!r}."
                )


def walk(components: Sequence[Payload]) -> Iterator[Payload]:
    """Every component, nested ones included (children, then a section's accessory)."""
    for component in components:
        yield component
        yield from walk(component.get("components") or [])
        if component.get("accessory"):
            yield from walk([component["accessory"]])


def _media_urls(component: Payload) -> Iterator[str]:
    for key in ("media", "file"):
        if isinstance(component.get(key), dict):
            yield str(component[key].get("url") or "")
    for item in component.get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("media"), dict):
            yield str(item["media"].get("url") or "")
