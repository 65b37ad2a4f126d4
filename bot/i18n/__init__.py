"""Member-facing words in every language the bot speaks: one gettext catalogue a language.

The catalogues (`locales/<lang>/LC_MESSAGES/messages.po`) are read with Babel once, at
start (`load`). English is the source language: a msgid is the English text.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
TEMPLATE = LOCALES_DIR / "messages.pot"

# Discord's locale code -> the catalogue's folder.
CATALOGUES: dict[str, str] = {
    "de": "de",
    "es-ES": "es_ES",
    "fr": "fr",
    "pt-BR": "pt_BR",
    "ja": "ja",
}
# A Discord locale without a catalogue of its own that reads another's.
FALLBACKS: dict[str, str] = {"es-419": "es-ES"}

_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")


def catalogue_path(code: str) -> Path:
    """The .po file of a Discord locale code in CATALOGUES."""
    return LOCALES_DIR / CATALOGUES[code] / "LC_MESSAGES" / "messages.po"


@functools.cache
def _messages(code: str) -> dict[str, str]:
    """msgid -> msgstr of one language (only translated, non-fuzzy entries)."""
    path = catalogue_path(code)
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=CATALOGUES[code])
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


def load() -> None:
    """Read every catalogue now (at start), not on the first member's reply."""
    for code in CATALOGUES:
        _messages(code)


def language_of(locale: str | None) -> str | None:
    """The catalogue code a Discord locale reads (None: English)."""
    if not locale:
        return None
    code = FALLBACKS.get(locale, locale)
    return code if code in CATALOGUES else None


def lookup(locale: str | None, msgid: str) -> str | None:
    """The translation of `msgid` for `locale`, or None (English, unknown, untranslated)."""
    code = language_of(locale)
    if code is None:
        return None
    return _messages(code).get(msgid)


def translate(locale: str | None, msgid: str, /, **params: object) -> str:
    """`msgid` in the language of `locale` (English when there is none), then its named
    `{placeholders}` filled with `params` (after the lookup, never before)."""
    text = lookup(locale, msgid) or msgid
    return text.format(**params) if params else text


def N_(msgid: str) -> str:
    """Mark a constant for extraction; it is translated where it is shown."""
    return msgid


def placeholders(text: str) -> set[str]:
    """The named `{placeholders}` of a message (for the catalogue check)."""
    return set(_PLACEHOLDER.findall(text))
