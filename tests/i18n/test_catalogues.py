"""The catalogues of member-facing words: complete where required, placeholders intact,
the template in step with the source and the command tree, and the lookup rules.
Every language is required (`scripts/i18n.py`'s REQUIRED).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po, write_po

from bot import i18n

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the catalogues the lookups and the check read instead of the real ones."""
    copy = tmp_path / "locales"
    shutil.copytree(i18n.LOCALES_DIR, copy)
    monkeypatch.setattr(i18n, "LOCALES_DIR", copy)
    monkeypatch.setattr(i18n, "TEMPLATE", copy / "messages.pot")
    i18n._messages.cache_clear()
    yield copy
    i18n._messages.cache_clear()


def set_msgstr(code: str, msgid: str, msgstr: str) -> None:
    path = i18n.catalogue_path(code)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=i18n.CATALOGUES[code])
    message = catalog.get(msgid)
    assert message is not None, msgid
    message.string = msgstr
    with path.open("wb") as handle:
        write_po(handle, catalog)
    i18n._messages.cache_clear()


def test_the_check_passes_on_the_shipped_catalogues() -> None:
    """`scripts/i18n.py check`: messages.pot matches the source and the command tree, and
    every required language translates every msgid with the same placeholders."""
    done = subprocess.run(
        [sys.executable, "scripts/i18n.py", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_every_language_is_required() -> None:
    script = load_script()
    assert set(script.REQUIRED) == {"de", "es-ES", "fr", "pt-BR", "ja"}
    assert set(i18n.CATALOGUES) == {"de", "es-ES", "fr", "pt-BR", "ja"}
    for code in i18n.CATALOGUES:
        assert i18n.catalogue_path(code).exists(), code


async def test_the_check_names_a_missing_translation_and_changed_placeholders(
    locales: Path,
) -> None:
    script = load_script()
    messages = await script.all_messages()
    assert script.problems(messages) == []
    set_msgstr("de", "Saved.", "")
    set_msgstr("de", "Blocked {who}.", "{wer} gesperrt.")
    found = script.problems(messages)
    assert "de: no translation of 'Saved.'" in found
    assert "de: the placeholders of 'Blocked {who}.' differ" in found
    assert len(found) == 2
    set_msgstr("ja", "Saved.", "")
    assert script.problems(messages, ("ja",)) == ["ja: no translation of 'Saved.'"]


async def test_the_check_names_a_template_out_of_step(locales: Path) -> None:
    script = load_script()
    messages = await script.all_messages()
    newer = {**messages, "A sentence added to the source.": "cogs/x.py:1"}
    del newer["Saved."]
    found = script.problems(newer)
    assert any("lacks 'A sentence added to the source.'" in line for line in found)
    assert any("has 'Saved.', no longer used" in line for line in found)


def test_translate_follows_the_locale_and_fills_placeholders_after_the_lookup() -> None:
    assert i18n.translate("de", "Saved.") == "Gespeichert."
    assert i18n.translate("de", "Blocked {who}.", who="<@1>") == "<@1> gesperrt."
    assert i18n.translate("en-US", "Blocked {who}.", who="<@1>") == "Blocked <@1>."
    assert i18n.translate(None, "Saved.") == "Saved."
    assert i18n.translate("ko", "Saved.") == "Saved."  # no catalogue: English
    # A value that looks like a msgid is never looked up again.
    assert i18n.translate("de", "Not changed: {reason}.", reason="Saved.") == (
        "Nicht geändert: Saved.."
    )


def test_an_empty_msgstr_gives_english_and_es_419_reads_es_es(locales: Path) -> None:
    set_msgstr("es-ES", "Saved.", "")
    assert i18n.translate("es-ES", "Saved.") == "Saved."  # an empty msgstr: English
    assert i18n.translate("es-419", "Saved.") == "Saved."
    set_msgstr("es-ES", "Saved.", "Listo.")
    assert i18n.translate("es-ES", "Saved.") == "Listo."
    assert i18n.translate("es-419", "Saved.") == "Listo."
    assert i18n.translate("pt-BR", "Saved.") not in ("Saved.", "Listo.")


def test_discord_markdown_survives_in_german() -> None:
    for msgid in ("Renamed **{old}** (`@{username}`) to **{new}**.", "[Read more]({url})"):
        german = i18n.translate("de", msgid)
        assert german != msgid
        for mark in ("**", "`", "[", "]("):
            assert german.count(mark) == msgid.count(mark), (msgid, mark)
    role = i18n.translate("de", "Creating characters here needs the <@&{role}> role.", role=5)
    assert "<@&5>" in role
