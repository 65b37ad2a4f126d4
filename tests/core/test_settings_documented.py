"""Every setting the bot reads is described in README's configuration table and in
`.env.example`, neither names a setting the bot does not read, and the example, copied to
`.env` with the two secrets filled in, is accepted as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.runtime.config import Settings
from bot.runtime.settings_check import inspect_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
# Read by docker-compose.yml only; both files say the bot does not read it.
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
SETTINGS = {name.upper() for name in Settings.model_fields}


def readme_settings() -> set[str]:
    """The variables named in the first column of README's configuration table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def example_settings() -> set[str]:
    """The variables `.env.example` sets or shows commented out (`# NAME=`)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def test_readme_describes_every_setting_and_only_settings() -> None:
    documented = readme_settings()
    assert sorted(SETTINGS - documented) == [], "settings missing from README's table"
    assert sorted(documented - SETTINGS - COMPOSE_ONLY) == [], "README names unknown settings"


def test_env_example_shows_every_setting_and_only_settings() -> None:
    shown = example_settings()
    assert sorted(SETTINGS - shown) == [], "settings missing from .env.example"
    assert sorted(shown - SETTINGS - COMPOSE_ONLY) == [], ".env.example names unknown settings"


def test_env_example_copied_as_it_is_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:  # only the example speaks
        monkeypatch.delenv(name, raising=False)
    settings, problems = inspect_settings(
        _env_file=EXAMPLE, discord_token="token", toapis_api_key="key"
    )
    assert problems == []
    assert settings.engine_list == ("sora-2", "seedance-2", "viduq3")
