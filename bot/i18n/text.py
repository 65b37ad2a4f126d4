"""A sentence the core builds for members, kept as a msgid and its params.

The core stays English for logs and the command line (`str(text)`); a front shows
`text.render(locale)`, the sentence in the member's language. A param that is itself a
`Text` is rendered in the same language.
"""

from __future__ import annotations

from bot.i18n import translate


class Text:
    """A msgid (marked for extraction where it is written: `Text("...", n=1)`) and its
    named params."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, /, **params: object) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, locale: str | None) -> str:
        """The sentence in the language of a Discord `locale` (None: English)."""
        values = {
            name: value.render(locale) if isinstance(value, Text) else value
            for name, value in self.params.items()
        }
        return translate(locale, self.msgid, **values)

    def __str__(self) -> str:
        return self.render(None)

    def to_json(self) -> dict[str, object]:
        """The JSON-safe form kept in a job's meta: a nested `Text` param likewise."""
        params = {
            name: value.to_json() if isinstance(value, Text) else value
            for name, value in self.params.items()
        }
        return {"msgid": self.msgid, "params": params}

    @classmethod
    def from_json(cls, kept: object) -> Text | None:
        """A `Text` read back from `to_json`'s form (None when `kept` is not that form)."""
        if not isinstance(kept, dict) or not isinstance(kept.get("msgid"), str):
            return None
        raw = kept.get("params")
        params: dict[str, object] = {}
        for name, value in (raw if isinstance(raw, dict) else {}).items():
            nested = cls.from_json(value) if isinstance(value, dict) else None
            params[str(name)] = nested if nested is not None else value
        return cls(kept["msgid"], **params)

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Text):
            return (self.msgid, self.params) == (other.msgid, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)


class TextError(ValueError):
    """An error whose message members read: `str()` is English, `.text` renders it."""

    def __init__(self, text: Text | str) -> None:
        self.text = text if isinstance(text, Text) else Text(text)
        super().__init__(str(self.text))


def render(message: Text | str, locale: str | None) -> str:
    """A core message in a member's language (a plain `str` is shown as it is)."""
    return message.render(locale) if isinstance(message, Text) else message


def words(error: BaseException, locale: str | None) -> str:
    """An error's message for a member: translated when it is a `TextError`."""
    return error.text.render(locale) if isinstance(error, TextError) else str(error)
