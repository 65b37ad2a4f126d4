"""Configuration: defaults, the database URL forms, and the one-line errors people see."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime.config import ConfigError, sqlite_path
from bot.runtime.settings_check import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(
            (
                "DISCORD_",
                "TOAPIS_",
                "DATABASE_",
                "DATA_DIR",
                "POLL_",
                "JOB_",
                "LOG_",
                "MEDIA_",
                "LIKENESS_",
                "AWS_",
            )
        ):
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
    assert result.returncode == 1  # run: one line, exit 1
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
    assert result.returncode == 1  # run: one line, exit 1
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


def test_every_invalid_setting_is_named_at_once(monkeypatch):
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "soon")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    monkeypatch.setenv("DATABASE_URL", "mysql://db")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert [p.setting for p in caught.value.problems] == [
        "DATABASE_URL",
        "POLL_INTERVAL_SECONDS",
        "LOG_LEVEL",
    ]
    assert str(caught.value) == (
        "DATABASE_URL is invalid: not a sqlite:/// or postgresql:// URL: set it to "
        "sqlite:///data/bot.sqlite3 (relative), sqlite:////absolute/path.sqlite3 or "
        "postgresql://user:password@host:5432/database (see .env.example); "
        "POLL_INTERVAL_SECONDS is invalid: Input should be a valid number, unable to parse "
        "string as a number: set it to a number of seconds above 0, at most 600 (see "
        ".env.example); LOG_LEVEL is invalid: Input should be 'CRITICAL', 'ERROR', 'WARNING', "
        "'INFO' or 'DEBUG': set it to DEBUG, INFO, WARNING, ERROR or CRITICAL (see .env.example)."
    )


def test_data_dir_holds_the_database_and_the_heartbeat(monkeypatch):
    monkeypatch.setenv("DATA_DIR", "/srv/sora")
    settings = load_settings()
    assert settings.database_path == Path("/srv/sora/bot.sqlite3")
    assert settings.heartbeat_path == Path("/srv/sora/heartbeat")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////elsewhere/x.sqlite3")
    assert load_settings().database_path == Path("/elsewhere/x.sqlite3")  # explicit URL wins
    monkeypatch.delenv("DATA_DIR")
    assert load_settings().heartbeat_path == Path("/elsewhere/heartbeat")  # next to it
    monkeypatch.setenv("DATA_DIR", "")  # a blank line in .env is "not set"
    monkeypatch.delenv("DATABASE_URL")
    assert load_settings().database_path == Path("data/bot.sqlite3")


def test_postgres_url_selects_the_shared_backend(monkeypatch):
    settings = load_settings()
    assert settings.database_target == Path("data/bot.sqlite3")
    assert settings.database_pool_size == 10
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:pw@db:5432/bot")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    settings = load_settings()
    assert settings.database_target == "postgresql://bot:pw@db:5432/bot"
    assert settings.database_pool_size == 3
    assert settings.heartbeat_path == Path("data/heartbeat")  # no file to sit next to
    assert "pw" in settings.secrets()  # the password is redacted from logs
    monkeypatch.setenv("DATABASE_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE is invalid"):
        load_settings()


def test_the_likeness_store_and_its_s3_credentials(monkeypatch, tmp_path):
    settings = load_settings()
    assert (settings.likeness_store, settings.likeness_s3_config()) == (None, {})
    (tmp_path / ".env").write_text(
        "LIKENESS_STORE=s3://sora-bot/likeness\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\n"
        "AWS_SECRET_ACCESS_KEY=s3-secret-from-dotenv\nAWS_REGION=eu-west-1\n"
    )
    monkeypatch.setenv("LIKENESS_S3_ENDPOINT_URL", "http://minio.local:9000/")
    settings = load_settings()
    assert settings.likeness_store == "s3://sora-bot/likeness"
    assert settings.likeness_s3_endpoint_url == "http://minio.local:9000"
    assert settings.likeness_s3_config() == {
        "access_key_id": "AKIAEXAMPLE",
        "secret_access_key": "s3-secret-from-dotenv",
        "region": "eu-west-1",
    }
    assert "s3-secret-from-dotenv" in settings.secrets()  # redacted from logs
    assert "s3-secret-from-dotenv" not in repr(settings)
    monkeypatch.setenv("LIKENESS_STORE", "/srv/likeness")
    monkeypatch.setenv("LIKENESS_S3_ENDPOINT_URL", "minio.local:9000")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "LIKENESS_STORE is invalid: not an s3://bucket/prefix address: set it to nothing "
        "(files under DATA_DIR) or s3://bucket/prefix (see .env.example); "
        "LIKENESS_S3_ENDPOINT_URL is invalid: must "
        "start with http:// or https://: set it to an http:// or https:// URL, or nothing "
        "(AWS itself) (see .env.example)."
    )


def test_run_names_every_problem_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "TOAPIS_"))}
    env["MEDIA_WORKERS"] = "many"
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1  # run: one line, exit 1
    assert result.stderr == (
        "error: DISCORD_TOKEN and TOAPIS_API_KEY are not set: put them in the environment or "
        "in a .env file (copy .env.example to .env and fill it in); MEDIA_WORKERS is invalid: "
        "Input should be a valid integer, unable to parse string as an integer: set it to a "
        "whole number from 1 to 64, or nothing (see .env.example).\n"
    )
