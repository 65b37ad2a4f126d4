"""Configuration: defaults, the database URL forms, and the one-line errors people see."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, sqlite_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(("DISCORD_", "TOAPIS_", "DATABASE_", "POLL_", "JOB_", "LOG_")):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_match_the_documentation():
    settings = load_settings()
    assert settings.toapis_base_url == "https://toapis.com"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.poll_interval_seconds == 5
    assert settings.job_timeout_seconds == 300
    assert settings.allow_private_urls is False
    assert settings.discord_token is None


def test_database_url_forms():
    assert sqlite_path("sqlite:///data/x.sqlite3") == Path("data/x.sqlite3")
    assert sqlite_path("sqlite:////abs/x.sqlite3") == Path("/abs/x.sqlite3")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        sqlite_path("postgres://x")


def test_env_file_is_read_and_secrets_stay_hidden(tmp_path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc.def.ghi\nTOAPIS_API_KEY=sk-123456\n")
    settings = load_settings()
    assert settings.toapis_api_key is not None
    assert settings.toapis_api_key.get_secret_value() == "sk-123456"
    assert "sk-123456" not in repr(settings) and "abc.def.ghi" not in str(settings)
    assert set(settings.secrets()) == {"abc.def.ghi", "sk-123456"}


def test_invalid_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "soon")
    with pytest.raises(ConfigError, match="POLL_INTERVAL_SECONDS"):
        load_settings()


def test_starting_without_a_token_says_what_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DISCORD_TOKEN" in lines[0] and ".env.example" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_api_key_is_named_after_the_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env["DISCORD_TOKEN"] = "x" * 30
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "TOAPIS_API_KEY" in result.stderr and "x" * 30 not in result.stderr


def test_unusable_database_is_a_clear_start_up_error(tmp_path):
    (tmp_path / "data").write_text("a file where the data folder should be")
    (tmp_path / "foreign.sqlite3").write_bytes(b"not a database at all, just bytes" * 10)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env.update(
        DISCORD_TOKEN="x" * 40,
        TOAPIS_API_KEY="k" * 20,
        DISCORD_API_BASE_URL="http://127.0.0.1:9/api/v10",
    )
    for url, words in (
        ("sqlite:///data/bot.sqlite3", "cannot open the database"),
        ("sqlite:///foreign.sqlite3", "not a SQLite database"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "bot"],
            cwd=tmp_path,
            env={**env, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1
        assert words in result.stderr and "Traceback" not in result.stderr
        assert "x" * 40 not in result.stderr
