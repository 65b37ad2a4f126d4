"""README's "What members can do" table names every command the bot registers with Discord,
each option and each offered choice, and no command the bot does not have: the bot's own
sync to the fake Discord is what is compared, so a new command or option fails here until
the README says what it does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cogs.conftest import bot_settings, start_bot

ROOT = Path(__file__).resolve().parents[2]
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2  # Discord's option types that nest commands
CHAT_INPUT = 1  # a slash command; 2 and 3 are the user and message context menus


@dataclass(frozen=True)
class Row:
    """One row of the commands table: its first cell (how it is typed) and all of it."""

    command: str
    whole: str


@dataclass(frozen=True)
class Leaf:
    """A slash command as a member types it (`/settings channels`), with its options."""

    path: str
    options: tuple[dict[str, Any], ...]


def commands_table() -> list[Row]:
    """The rows of the table under "## What members can do" (not its header)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## What members can do\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [Row(line[2:].split(" | ", 1)[0], line) for line in lines[1:]]


def leaves(command: dict[str, Any], path: str) -> list[Leaf]:
    """The slash commands under `command` (itself, if it nests none)."""
    options = command.get("options") or []
    nested = [o for o in options if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not nested:
        return [Leaf(path, tuple(options))]
    return [leaf for o in nested for leaf in leaves(o, f"{path} {o['name']}")]


def word(text: str) -> re.Pattern[str]:
    """`text` standing alone (not part of a longer name such as `sora-2-pro`)."""
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")


async def registered(tmp_path: Path, fake_discord: Any, simulator: Any) -> list[dict[str, Any]]:
    """Every command the bot synced (globally and to any server)."""
    running = await start_bot(bot_settings(tmp_path, fake_discord, simulator), fake_discord)
    await running.bot.close()
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for commands in fake_discord.commands.values():
        for command in commands:
            found[(command.get("type", CHAT_INPUT), command["name"])] = command
    assert found, "the bot synced no command"
    return list(found.values())


async def test_readme_lists_every_command_option_and_choice_the_bot_registers(
    tmp_path, fake_discord, simulator
):
    commands = await registered(tmp_path, fake_discord, simulator)
    rows = commands_table()
    slash = [
        leaf
        for command in commands
        if command.get("type", CHAT_INPUT) == CHAT_INPUT
        for leaf in leaves(command, f"/{command['name']}")
    ]
    missing: list[str] = []
    for leaf in slash:
        mine = [row for row in rows if word(leaf.path).search(row.command)]
        if not mine:
            missing.append(leaf.path)
            continue
        for option in leaf.options:
            if not any(word(option["name"]).search(row.command) for row in mine):
                missing.append(f"{leaf.path} option {option['name']}")
            for choice in option.get("choices") or []:
                if not any(word(str(choice["value"])).search(row.whole) for row in mine):
                    missing.append(f"{leaf.path} {option['name']} choice {choice['value']}")
    menus = [c["name"] for c in commands if c.get("type", CHAT_INPUT) != CHAT_INPUT]
    for name in menus:  # right-click entries, named in bold
        if not any(f"**{name}**" in row.command for row in rows):
            missing.append(f"context menu {name}")
    assert not missing, f"README's commands table does not mention: {missing}"

    # And the other way: every command the table names is one the bot has.
    paths = {leaf.path for leaf in slash}
    typed = [span for row in rows for span in re.findall(r"`(/[^`]+)`", row.command)]
    unknown = [
        span for span in typed if not any(" ".join(span.split()[:n]) in paths for n in (1, 2, 3))
    ]
    assert not unknown, f"README's commands table names commands the bot lacks: {unknown}"
