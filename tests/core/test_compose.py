"""The docker-compose example of README's "Scaling out": every bot process it starts is
one the bot accepts, and together they run every shard once on one PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.runtime.config import Settings
from bot.runtime.settings_check import inspect_settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def bot_services() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: spec for name, spec in services.items() if spec.get("build") == "."}


def bot_settings(spec: dict[str, Any]) -> Settings:
    """The settings one bot service starts with (secrets filled in as .env would)."""
    env = {
        key.lower(): str(value).replace("${POSTGRES_PASSWORD}", "pw")
        for key, value in spec["environment"].items()
    }
    settings, problems = inspect_settings(
        _env_file=None, discord_token="token", toapis_api_key="key", **env
    )
    assert problems == []
    return settings


def test_every_variable_of_the_example_is_a_setting_or_postgres_own() -> None:
    known = {name.upper() for name in Settings.model_fields}
    for spec in bot_services().values():
        assert set(spec["environment"]) <= known
    assert ".env" in ROOT.joinpath(".dockerignore").read_text(encoding="utf-8").split()
    assert "POSTGRES_PASSWORD" in (ROOT / ".env.example").read_text(encoding="utf-8")


def test_two_processes_run_every_shard_once_on_one_postgresql() -> None:
    services = bot_services()
    assert len(services) == 2
    settings = [bot_settings(spec) for spec in services.values()]
    counts = {s.shard_count for s in settings}
    assert len(counts) == 1
    (count,) = counts
    shards = sorted(shard for s in settings for shard in s.shard_id_list or [])
    assert shards == list(range(count or 0))
    assert sum(s.syncs_commands for s in settings) == 1
    targets = {str(s.database_target) for s in settings}
    assert len(targets) == 1 and targets.pop().startswith("postgresql://sora:pw@db:5432/")
    volumes = [spec["volumes"][0].split(":")[0] for spec in services.values()]
    assert len(set(volumes)) == len(volumes)  # each its own heartbeat
    for spec in services.values():
        assert spec["depends_on"]["db"]["condition"] == "service_healthy"
