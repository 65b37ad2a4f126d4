"""`python -m bot`: start the Discord bot, or run a CLI command (`create`, `characters`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.cli.main import build_parser, run_cli
from bot.runtime.config import REQUIRED, one_line
from bot.runtime.log_redaction import setup_logging
from bot.runtime.settings_check import inspect_settings


def run_bot() -> int:
    """Start the Discord bot; returns the process exit code."""
    settings, problems = inspect_settings()
    problems += settings.missing(*REQUIRED)
    if problems:  # every missing or invalid setting, in one line
        print(f"error: {one_line(problems)}", file=sys.stderr)
        return 1
    setup_logging(settings.log_level, settings.secrets(), json_lines=settings.log_format == "json")
    from bot.runtime.app import run  # discord is imported only when the bot really starts

    return run(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bot` and the `sora-character-bot` script."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = build_parser().parse_args(args).command
    if command in (None, "run"):
        return run_bot()
    return run_cli(args)


if __name__ == "__main__":
    sys.exit(main())
