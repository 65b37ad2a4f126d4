"""Settings from the environment and `.env` (see `.env.example` for every field); read
them with `bot.runtime.settings_check.load_settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.media.likeness_store import parse_location
from bot.runtime.config_problems import WHERE
from bot.runtime.config_problems import ConfigError as ConfigError
from bot.runtime.config_problems import Problem as Problem
from bot.runtime.config_problems import one_line as one_line
from bot.runtime.config_problems import parse_shard_ids as parse_shard_ids
from storage.database import DEFAULT_POOL_SIZE, is_postgres_url

ENGINE_NAMES = ("sora-2", "seedance-2", "viduq3")  # the order characters are bound in
DEFAULT_DATA_DIR = "data"
DATABASE_FILE = "bot.sqlite3"
HEARTBEAT_FILE = "heartbeat"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR}/{DATABASE_FILE}"
REQUIRED = ("DISCORD_TOKEN", "TOAPIS_API_KEY")


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
    data_dir: Path | None = Field(
        default=None,
        description="Folder of the database and the heartbeat file (default: data).",
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite:///relative or ////abs (default: in DATA_DIR), or a "
        "postgresql:// URL (several bot processes may share it).",
    )
    database_pool_size: int = Field(
        default=DEFAULT_POOL_SIZE,
        ge=1,
        le=1000,
        description="Connections each process keeps to PostgreSQL (unused with SQLite).",
    )
    discord_api_base_url: str | None = Field(
        default=None, description="REST base URL override (proxy or tests)."
    )
    help_url: str | None = Field(default=None, description="Page /help links to (unset: no link).")
    discord_gateway_url: str | None = Field(
        default=None, description="Gateway URL override (proxy or tests)."
    )
    dev_guild_id: int | None = Field(
        default=None, description="Sync commands to this guild only (instant updates)."
    )
    http_port: int | None = Field(
        default=None, ge=0, le=65535, description="Serve webhooks, /health, /metrics here."
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    toapis_webhook_secret: SecretStr | None = Field(
        default=None, description="Webhook signing secret(s), comma-separated during rotation."
    )
    toapis_callback_url: str | None = Field(
        default=None, description="Public HTTPS URL of /webhooks/toapis sent with requests."
    )
    owner_ids: str = Field(
        default="",
        description="Extra bot owners: user ids, comma-separated (the application's owner "
        "or team always counts).",
    )
    character_engines: str = Field(
        default="sora-2,seedance-2,viduq3",
        description="The engines this bot binds new characters to, comma-separated, in "
        "any of sora-2, seedance-2, viduq3 (servers choose among them with /settings engines).",
    )
    owner_guild_id: int | None = Field(
        default=None, description="Register the owner commands in this server only."
    )
    poll_interval_seconds: float = Field(default=5.0, gt=0, le=600)
    job_timeout_seconds: float = Field(default=300.0, gt=0)
    lease_seconds: float = Field(
        default=30.0,
        ge=3,
        le=3600,
        description="How long a process holds a job it follows (renewed every third of "
        "it); another process takes the jobs of one that died after this.",
    )
    heartbeat_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds between heartbeat touches while connected to Discord.",
    )
    shard_count: int | None = Field(
        default=None,
        ge=1,
        le=10000,
        description="Discord shards of the whole bot (over every process); none: one "
        "process, one shard.",
    )
    shard_ids: str = Field(
        default="",
        description="The shards this process runs, e.g. 0-3 or 0,2,5-7 (default: all of "
        "SHARD_COUNT). Commands are synced only by the process running shard 0.",
    )
    allow_private_urls: bool = False
    media_workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Threads for cutting and probing videos (default: one per CPU).",
    )
    guild_retention_days: float = Field(
        default=30,
        gt=0,
        description="Days a server's data is kept after the bot leaves it (then purged).",
    )
    job_retention_days: float = Field(
        default=90, gt=0, description="Days finished jobs are kept (then pruned)."
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
    likeness_store: str | None = Field(
        default=None,
        description="Where characters' likenesses (clip and stills) are kept: empty for "
        "DATA_DIR/likeness, or s3://bucket/prefix (needed by several processes on several "
        "machines).",
    )
    likeness_s3_endpoint_url: str | None = Field(
        default=None,
        description="The S3-compatible service's URL (MinIO, Cloudflare R2 and the like); "
        "empty for AWS S3. http:// is allowed only here.",
    )
    aws_access_key_id: str | None = Field(
        default=None, description="S3 access key (else the environment's AWS credentials)."
    )
    aws_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")
    aws_session_token: SecretStr | None = Field(
        default=None, description="S3 session token (temporary credentials only)."
    )
    aws_region: str | None = Field(default=None, description="S3 region (default: us-east-1).")
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text, or json: one JSON object per line."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", "toapis_tier", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("discord_token", "toapis_api_key", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "dev_guild_id",
        "owner_guild_id",
        "http_port",
        "toapis_webhook_secret",
        "toapis_callback_url",
        "data_dir",
        "database_url",
        "discord_api_base_url",
        "discord_gateway_url",
        "help_url",
        "media_workers",
        "shard_count",
        "toapis_submit_per_second",
        "toapis_query_per_second",
        "likeness_store",
        "likeness_s3_endpoint_url",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("owner_ids")
    @classmethod
    def _user_ids(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isdigit() and len(part) <= 20 for part in parts):
            raise ValueError("must be Discord user ids separated by commas")
        return ",".join(parts)

    @field_validator("character_engines")
    @classmethod
    def _engines(cls, value: str) -> str:
        parts = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [part for part in parts if part not in ENGINE_NAMES]
        if unknown or not parts:
            raise ValueError(f"must name engines among {', '.join(ENGINE_NAMES)}")
        return ",".join(dict.fromkeys(parts))

    @property
    def engine_list(self) -> tuple[str, ...]:
        """The engines of CHARACTER_ENGINES, in the bot's order (sora-2 first)."""
        chosen = set(self.character_engines.split(","))
        return tuple(name for name in ENGINE_NAMES if name in chosen)

    @field_validator("shard_ids")
    @classmethod
    def _shard_ranges(cls, value: str, info: ValidationInfo) -> str:
        ids = parse_shard_ids(value)  # raises ValueError with the reason
        count = info.data.get("shard_count")
        if ids and count is None and "shard_count" in info.data:
            raise ValueError("it needs SHARD_COUNT (the shards of the whole bot)")
        if ids and count is not None and ids[-1] >= count:
            raise ValueError(
                f"it names shard {ids[-1]}, but SHARD_COUNT={count} numbers them 0 to {count - 1}"
            )
        return value.strip()

    @property
    def sharded(self) -> bool:
        """Discord runs sharded (SHARD_COUNT set): an AutoShardedBot with explicit ids."""
        return self.shard_count is not None

    @property
    def shard_id_list(self) -> list[int] | None:
        """The shards this process runs (None: not sharded); all of them by default."""
        if self.shard_count is None:
            return None
        return parse_shard_ids(self.shard_ids) or list(range(self.shard_count))

    @property
    def syncs_commands(self) -> bool:
        """This process syncs slash commands: it runs shard 0 (or is not sharded)."""
        ids = self.shard_id_list
        return ids is None or 0 in ids

    @property
    def owner_id_set(self) -> frozenset[int]:
        """The user ids named in OWNER_IDS."""
        return frozenset(int(part) for part in self.owner_ids.split(",") if part)

    @field_validator("likeness_store")
    @classmethod
    def _likeness_store(cls, value: str | None) -> str | None:
        if value is not None:
            parse_location(value)  # raises ValueError with the reason
        return value

    @field_validator(
        "toapis_base_url",
        "toapis_callback_url",
        "likeness_s3_endpoint_url",
        "discord_api_base_url",
        "help_url",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https"):
            raise ValueError("must start with http:// or https://")
        if not parts.hostname:
            raise ValueError("names no host after http:// or https://")
        return value.strip().rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None and not is_postgres_url(value):
            try:
                sqlite_path(value)
            except ConfigError:
                raise ValueError("not a sqlite:/// or postgresql:// URL") from None
        return value

    @property
    def data_path(self) -> Path:
        """The data folder: `DATA_DIR`, else the database's folder, else `data`."""
        if self.data_dir is not None:
            return self.data_dir
        if self.database_url is not None and not is_postgres_url(self.database_url):
            return sqlite_path(self.database_url).parent
        return Path(DEFAULT_DATA_DIR)

    @property
    def database_path(self) -> Path:
        """The SQLite file: `DATABASE_URL` when set, else `bot.sqlite3` in the data folder
        (where one would be, when `DATABASE_URL` names PostgreSQL)."""
        if self.database_url is not None and not is_postgres_url(self.database_url):
            return sqlite_path(self.database_url)
        return self.data_path / DATABASE_FILE

    @property
    def database_target(self) -> Path | str:
        """What `storage.open_database` takes: the PostgreSQL URL, else the SQLite file."""
        if self.database_url is not None and is_postgres_url(self.database_url):
            return self.database_url
        return self.database_path

    @property
    def heartbeat_path(self) -> Path:
        """The file the connected bot touches (`python -m bot doctor --quick` reads it)."""
        return self.data_path / HEARTBEAT_FILE

    def likeness_s3_config(self) -> dict[str, str]:
        """The AWS_* credentials and region set here (the S3 client also reads the
        environment itself; these add what only `.env` holds)."""
        values = {
            "access_key_id": self.aws_access_key_id,
            "secret_access_key": _secret(self.aws_secret_access_key),
            "session_token": _secret(self.aws_session_token),
            "region": self.aws_region,
        }
        return {name: value for name, value in values.items() if value}

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redaction filter."""
        values = (
            self.discord_token,
            self.toapis_api_key,
            self.toapis_webhook_secret,
            self.aws_secret_access_key,
            self.aws_session_token,
        )
        found = [s.get_secret_value() for s in values if s and s.get_secret_value()]
        password = urlsplit(self.database_url).password if self.database_url else None
        return found + self.webhook_secrets + ([password] if password else [])

    @property
    def webhook_secrets(self) -> list[str]:
        """The webhook signing secrets (two while rotating)."""
        if self.toapis_webhook_secret is None:
            return []
        text = self.toapis_webhook_secret.get_secret_value()
        return [part.strip() for part in text.split(",") if part.strip()]

    def missing(self, *names: str) -> list[Problem]:
        """A `Problem` for each of `names` that is not set."""
        return [
            Problem(name.upper(), f"{name.upper()} is not set", f"put it {WHERE}")
            for name in names
            if getattr(self, name.lower()) is None
        ]

    def require(self, *names: str) -> None:
        """Raise one `ConfigError` naming every one of `names` that is not set."""
        problems = self.missing(*names)
        if problems:
            raise ConfigError(one_line(problems), problems)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path` -> rel/path, `sqlite:////abs/path` -> /abs/path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(
            f"DATABASE_URL must look like {DEFAULT_DATABASE_URL} (relative) or "
            "sqlite:////absolute/path.sqlite3, see .env.example."
        )
    return Path(url[len(prefix) :])
