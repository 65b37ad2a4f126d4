"""Reading the settings: every invalid one named at once, with how to fix it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bot.runtime.config import DEFAULT_DATABASE_URL, Settings
from bot.runtime.config_problems import ConfigError, Problem, one_line

# What a valid value looks like, for the "how to fix" of an invalid setting.
VALID: dict[str, str] = {
    "toapis_base_url": "an http:// or https:// URL, or nothing (https://toapis.com)",
    "discord_api_base_url": "an http:// or https:// URL, or nothing (Discord's own)",
    "help_url": "an http:// or https:// URL, or nothing (no link in /help)",
    "database_url": f"{DEFAULT_DATABASE_URL} (relative), sqlite:////absolute/path.sqlite3 "
    "or postgresql://user:password@host:5432/database",
    "database_pool_size": "a whole number from 1 to 1000",
    "data_dir": "a folder path",
    "dev_guild_id": "a server id (digits only) or nothing",
    "poll_interval_seconds": "a number of seconds above 0, at most 600",
    "job_timeout_seconds": "a number of seconds above 0",
    "lease_seconds": "a number of seconds from 3 to 3600",
    "shard_count": "a whole number from 1 to 10000, or nothing",
    "shard_ids": "shard numbers below SHARD_COUNT: 0-3, or 0,2,5-7, or nothing",
    "heartbeat_interval_seconds": "a number of seconds above 0, at most 3600",
    "allow_private_urls": "true or false",
    "media_workers": "a whole number from 1 to 64, or nothing",
    "log_level": "DEBUG, INFO, WARNING, ERROR or CRITICAL",
    "likeness_store": "nothing (files under DATA_DIR) or s3://bucket/prefix",
    "likeness_s3_endpoint_url": "an http:// or https:// URL, or nothing (AWS itself)",
}


def inspect_settings(**overrides: Any) -> tuple[Settings, list[Problem]]:
    """Read settings and list every invalid one at once.

    The settings returned use the default for each invalid value, so the other checks can
    still run; the problems say what was wrong with each and how to fix it.
    """
    try:
        return Settings(**overrides), []
    except ValidationError as exc:
        invalid: dict[str, Problem] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in invalid or field not in Settings.model_fields:
                continue
            name = field.upper()
            why = str(error["msg"]).removeprefix("Value error, ")
            valid = VALID.get(field, "a valid value")
            invalid[field] = Problem(
                name, f"{name} is invalid: {why}", f"set it to {valid} (see .env.example)"
            )
        defaults = {field: Settings.model_fields[field].default for field in invalid}
        return Settings(**{**overrides, **defaults}), list(invalid.values())


def load_settings(**overrides: Any) -> Settings:
    """Read settings; every invalid one is named in one readable `ConfigError`."""
    settings, problems = inspect_settings(**overrides)
    if problems:
        raise ConfigError(one_line(problems), problems)
    return settings
