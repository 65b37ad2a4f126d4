"""The catalogues of member-facing words: `extract` and `check`.

    python scripts/i18n.py extract   # write bot/i18n/locales/messages.pot, update every .po
    python scripts/i18n.py check     # exit 1, naming each problem, when a catalogue is off

The template holds (a) every literal msgid given to `tr`, `tr_guild`, `translate` or `N_`
in bot/ and cogs/, and (b) every string of the command tree a translator is asked for
(descriptions, option descriptions, choice names), the tree built as the bot builds it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import discord
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po
from discord import app_commands

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot import i18n  # noqa: E402

# The function names whose msgid argument is extracted (argument position, 1-based).
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "tr": (2,),
    "tr_guild": (2,),
    "translate": (2,),
    "N_": None,
    "Text": (1,),  # bot.i18n.text: a core sentence shown in the member's language
    "t": None,  # a function's shorthand for `translate(locale, ...)`
}
SOURCES = ("bot", "cogs")
# The languages whose catalogue must be complete (Discord's codes).
REQUIRED: tuple[str, ...] = ("de", "es-ES", "fr", "pt-BR", "ja")
TREE = "command-tree"


def source_messages() -> dict[str, str]:
    """msgid -> where it is first used, from the source files."""
    found: dict[str, str] = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            for line, message, _comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=()
            ):
                if isinstance(message, str) and message:
                    found.setdefault(message, f"{path.relative_to(ROOT)}:{line}")
    return found


class Collector(app_commands.Translator):
    """Records every string the tree asks to translate, names aside."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """Remember the string; translate nothing."""
        from cogs.shared.i18n import NAME_LOCATIONS

        if context.location not in NAME_LOCATIONS and string.message:
            self.seen.setdefault(string.message, f"{TREE}:{context.location.name}")
        return None


async def tree_messages() -> dict[str, str]:
    """msgid -> where, from the command tree as the bot builds it (offline, temp database)."""
    from bot.runtime.app import EXTENSIONS, SoraBot
    from bot.runtime.container import open_core
    from bot.runtime.settings_check import load_settings

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            discord_token="extract.token.only",  # noqa: S106 (never used: no login)
            toapis_api_key="extract-only",
            toapis_base_url="http://127.0.0.1:9",
            database_url=f"sqlite:///{Path(folder) / 'extract.sqlite3'}",
            data_dir=folder,
            dev_guild_id=None,
            owner_guild_id=None,
        )
        bot = SoraBot(settings)
        bot.core = await open_core(settings)
        try:
            for extension in EXTENSIONS:
                await bot.load_extension(extension)
            collector = Collector()
            for command in bot.tree.get_commands():
                await command.get_translated_payload(bot.tree, collector)
        finally:
            for extension in reversed(list(bot.extensions)):
                await bot.unload_extension(extension)  # their background tasks stop
            await bot.core.close()
    return collector.seen


def template(messages: dict[str, str]) -> Catalog:
    """The .pot: every msgid, sorted, with where it is used."""
    catalog = new_catalog(None)
    for msgid in sorted(messages):
        where = messages[msgid]
        path, _, line = where.rpartition(":")
        location = (path, int(line)) if line.isdigit() else (where.replace(":", "/"), 0)
        catalog.add(msgid, locations=[location])
    return catalog


def new_catalog(locale: str | None) -> Catalog:
    """An empty catalogue with the project's header."""
    return Catalog(
        locale=locale,
        project="Sora Character Bot",
        copyright_holder="Sora Character Bot's authors",
        header_comment="# Member-facing words of Sora Character Bot (scripts/i18n.py extract).",
        fuzzy=False,
    )


def render(catalog: Catalog) -> bytes:
    """A catalogue as written to disk (no dates, so an unchanged one is unchanged)."""
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=True)
    lines = [
        line
        for line in out.getvalue().splitlines(keepends=True)
        if not line.startswith((b'"POT-Creation-Date', b'"PO-Revision-Date'))
    ]
    return b"".join(lines)


def read(path: Path, locale: str | None = None) -> Catalog:
    """A .po or .pot file."""
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


async def all_messages() -> dict[str, str]:
    """Source and tree together (the source's location wins)."""
    messages = await tree_messages()
    messages.update(source_messages())
    return messages


def extract() -> None:
    """Write the template and bring every language's .po up to it, keeping translations."""
    pot = template(asyncio.run(all_messages()))
    i18n.TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    i18n.TEMPLATE.write_bytes(render(pot))
    for code, folder in i18n.CATALOGUES.items():
        path = i18n.catalogue_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(path, folder) if path.exists() else new_catalog(folder)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        path.write_bytes(render(catalog))
    print(f"{len(pot)} messages in {i18n.TEMPLATE.relative_to(ROOT)}")


def problems(messages: Iterable[str], required: Iterable[str] = REQUIRED) -> list[str]:
    """What is wrong with the catalogues (empty: nothing)."""
    wanted = set(messages)
    found: list[str] = []
    if not i18n.TEMPLATE.exists():
        return [f"{i18n.TEMPLATE.name} is missing: run scripts/i18n.py extract"]
    in_pot = {str(m.id) for m in read(i18n.TEMPLATE) if m.id}
    for msgid in sorted(wanted - in_pot):
        found.append(f"messages.pot lacks {msgid!r}: run scripts/i18n.py extract")
    for msgid in sorted(in_pot - wanted):
        found.append(f"messages.pot has {msgid!r}, no longer used: run scripts/i18n.py extract")
    for code in required:
        path = i18n.catalogue_path(code)
        strings = {str(m.id): m for m in read(path, i18n.CATALOGUES[code]) if m.id}
        for msgid in sorted(wanted):
            entry = strings.get(msgid)
            if entry is None or not entry.string or entry.fuzzy:
                found.append(f"{code}: no translation of {msgid!r}")
            elif i18n.placeholders(str(entry.string)) != i18n.placeholders(msgid):
                found.append(f"{code}: the placeholders of {msgid!r} differ")
    return found


def check() -> int:
    """Print every problem; 1 when there is one."""
    found = problems(asyncio.run(all_messages()))
    for line in found:
        print(line)
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    """`extract` or `check`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=("extract", "check"))
    args = parser.parse_args(argv)
    if args.action == "extract":
        extract()
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
