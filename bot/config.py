"""Settings from the environment and `.env` (see `.env.example` for every field)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///data/bot.sqlite3"


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line a person can act on."""


class Settings(BaseSettings):
    """Every knob of the bot. Secrets are `SecretStr` and never printed."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: SecretStr | None = Field(
        default=None, description="Bot token from the Discord developer portal."
    )
    toapis_api_key: SecretStr | None = Field(default=None, description="toapis API key.")
    toapis_base_url: str = Field(default="https://toapis.com", description="toapis base URL.")
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL, description="SQLite URL, sqlite:///relative or ////abs."
    )
    discord_api_base_url: str | None = Field(
        default=None, description="REST base URL override (proxy or tests)."
    )
    discord_gateway_url: str | None = Field(
        default=None, description="Gateway URL override (proxy or tests)."
    )
    dev_guild_id: int | None = Field(
        default=None, description="Sync commands to this guild only (instant updates)."
    )
    poll_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    job_timeout_seconds: float = Field(default=300.0, gt=0)
    allow_private_urls: bool = False
    media_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Threads for cutting and probing videos (default: one per CPU).",
    )
    toapis_tier: Literal["default", "vip", "svip"] = Field(
        default="default", description="toapis account tier: picks the rate limits."
    )
    toapis_submit_per_second: float | None = Field(
        default=None, gt=0, le=1000, description="Override the tier's create requests per second."
    )
    toapis_query_per_second: float | None = Field(
        default=None, gt=0, le=10000, description="Override the tier's status queries per second."
    )
    toapis_query_share: float = Field(
        default=0.8, gt=0, le=1, description="Part of the query limit status polls may use."
    )
    discord_writes_per_second: float = Field(
        default=25.0, gt=0, le=50, description="Discord edits and posts per second, all jobs."
    )
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("discord_token", "toapis_api_key", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "dev_guild_id",
        "discord_api_base_url",
        "discord_gateway_url",
        "media_workers",
        "toapis_submit_per_second",
        "toapis_query_per_second",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("toapis_tier", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("toapis_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def database_path(self) -> Path:
        """The SQLite file `database_url` names."""
        return sqlite_path(self.database_url)

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        values = (self.discord_token, self.toapis_api_key)
        return [s.get_secret_value() for s in values if s and s.get_secret_value()]

    def require(self, *names: str) -> None:
        """Raise `ConfigError` naming the first of `names` that is not set."""
        for name in names:
            if getattr(self, name.lower()) is None:
                raise ConfigError(
                    f"{name.upper()} is not set: put it in the environment or in a .env file "
                    "(copy .env.example to .env and fill it in)."
                )


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path` -> rel/path, `sqlite:////abs/path` -> /abs/path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(
            f"DATABASE_URL must look like {DEFAULT_DATABASE_URL} (relative) or "
            "sqlite:////absolute/path.sqlite3, see .env.example."
        )
    return Path(url[len(prefix) :])


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable `ConfigError`."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        raise ConfigError(f"{field} is invalid: {first['msg']} (see .env.example).") from None
    sqlite_path(settings.database_url)
    return settings
