"""Command line over the core: create a character, list stored ones, check the setup."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.cli.admin import add_admin_parser, run_admin
from bot.cli.console import (
    ACCOUNT_REFUSED,
    CLI_GUILD,
    DEFAULT_GIVE_UP,
    PrintingListener,
    character_row,
    cli_origin,
    submit_and_follow,
)
from bot.domain.ranges import RangeError
from bot.media.errors import MediaError
from bot.media.orders import OrderError, local_order, plan_order
from bot.providers.base import DEFAULT_MODEL, MODELS, ProviderError
from bot.runtime.config import ConfigError, Settings
from bot.runtime.container import make_provider, open_core
from bot.runtime.log_redaction import setup_logging
from bot.runtime.settings_check import load_settings
from storage import CharacterRepository, StorageError, open_database

PRIVATE_HINT = (
    " For local testing (the simulator, files on this machine) set ALLOW_PRIVATE_URLS=true; "
    "never in production."
)


SETTINGS_READ = (
    "Settings come from the environment or a .env file in the current folder (see "
    ".env.example): {names}."
)


def program_name() -> str:
    """How the user started us: the console script's name, else `python -m bot`."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name and not name.endswith(".py") and name != "-m" else "python -m bot"


def build_parser() -> argparse.ArgumentParser:
    """Argument parser for `python -m bot` (or the `sora-character-bot` script)."""
    parser = argparse.ArgumentParser(
        prog=program_name(),
        description="Sora Character Bot. Without a command it starts the Discord bot.",
    )
    add_verbose(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="start the Discord bot (the default)",
        description="Start the Discord bot: the same as giving no command. "
        + SETTINGS_READ.format(names="all of them (see README)"),
    )

    create = commands.add_parser(
        "create",
        help="create a character from a video moment",
        description=(
            "Create a character from 1-3 s of a video with the same checks and media "
            "intake as the Discord bot, bound to the same engines (CHARACTER_ENGINES, as "
            "narrowed by the server's /settings engines), print its progress and card, and "
            "store it. "
            + SETTINGS_READ.format(
                names="TOAPIS_API_KEY (required), TOAPIS_BASE_URL, DATABASE_URL, "
                "CHARACTER_ENGINES, ALLOW_PRIVATE_URLS, MEDIA_WORKERS, POLL_INTERVAL_SECONDS, "
                "LOG_LEVEL"
            )
        ),
    )
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="public URL of a video with an audio track")
    source.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="a video file on this machine (MP4, MOV, WebM, at most 50 MB): the moment is "
        "cut and uploaded, as a Discord attachment is",
    )
    source.add_argument("--from-task", help="id of an earlier toapis task holding the video")
    create.add_argument("--start", required=True, help="start of the moment (seconds or m:ss)")
    create.add_argument("--end", required=True, help="end of the moment, 1-3 s after start")
    create.add_argument(
        "--model", default=DEFAULT_MODEL, choices=MODELS, help="toapis model (default sora-2)"
    )
    create.add_argument(
        "--guild", type=int, default=CLI_GUILD, help="server id to store the character under"
    )
    create.add_argument(
        "--name",
        help="the character's name where Sora does not name it (default: character N)",
    )
    create.add_argument(
        "--give-up",
        type=float,
        default=DEFAULT_GIVE_UP,
        metavar="SECONDS",
        help="stop waiting when toapis cannot be reached or will not accept the request "
        "for this long; nothing is sent or charged (default: %(default)g)",
    )

    commands.add_parser(
        "demo",
        help="see the whole job offline on every engine: simulator, sample clip, characters, "
        "videos (no account)",
        description=(
            "Run the whole job offline in a temporary folder of its own: start the toapis "
            "simulator, make a sample clip, create a character bound to Sora 2, Seedance 2 "
            "and Vidu Q3 with live progress; retire sora-2 in the simulator and create one "
            "for the other two; make a video with it on seedance-2 and on viduq3; save its "
            "avatar in the current folder (never over an earlier one). Needs no account "
            "and no settings; never touches the bot's own database."
        ),
    )

    doctor = commands.add_parser(
        "doctor",
        help="check the setup: settings, data folder, database, ffmpeg, Discord, toapis",
        description=(
            "Check everything the bot needs, one line each (ok, or what is wrong and how to "
            "fix it): every setting, the data folder and database, ffmpeg, Discord (token, "
            "intents, permissions in DEV_GUILD_ID) and toapis (key accepted, the account's credit; "
            "nothing is spent). Exit code 0 when nothing failed. "
            + SETTINGS_READ.format(names="all of them")
        ),
    )
    doctor.add_argument(
        "--quick",
        action="store_true",
        help="only check that the running bot's heartbeat file is fresh (Docker HEALTHCHECK)",
    )

    listing = commands.add_parser(
        "characters",
        help="list the characters stored for a server",
        description="List a server's stored characters, newest first. "
        + SETTINGS_READ.format(names="DATABASE_URL (no toapis key needed)"),
    )
    listing.add_argument("--guild", type=int, default=CLI_GUILD, help="server id (default 0)")
    listing.add_argument("--limit", type=int, default=25, help="how many to show (default 25)")
    add_admin_parser(commands)
    describe_all(parser)
    return parser


def add_verbose(parser: argparse.ArgumentParser, default: object = argparse.SUPPRESS) -> None:
    """`-v`: before or after the command (a subcommand's own leaves the top one as is)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="also print the bot's log lines (to stderr); without it a command prints "
        "only its own lines",
    )


def describe_all(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand without a description its one-line help as one, so
    `COMMAND --help` always says what the command does; those that log take `-v`."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, sub in action.choices.items():
            if not sub.description and helps.get(name):
                text = str(helps[name])
                sub.description = text[0].upper() + text[1:] + "."
            quiet = name not in ("run", "demo", "doctor")  # the bot logs; these print
            if quiet and not any("--verbose" in a.option_strings for a in sub._actions):
                add_verbose(sub)
            describe_all(sub)


async def create_command(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """Check, prepare (cut and upload when needed) and submit one job, then follow it.

    The same checks and intake as in Discord: exit code 0 when a character came out.
    """
    if args.file is not None:  # only the owner's command line reads local files
        order = local_order(args.file, start=args.start, end=args.end, model=args.model)
    else:
        order = plan_order(
            url=args.url,
            from_task=args.from_task,
            start=args.start,
            end=args.end,
            model=args.model,
            allow_private=settings.allow_private_urls,
        )
    listener = PrintingListener(out)
    # Few retries inside one call: each round that fails is printed, and the tracker
    # sends again with backoff until `--give-up`.
    core = await open_core(settings, listener, provider=make_provider(settings, attempts=2))
    try:
        origin = await cli_origin(core, args.guild, args.name)
        return await submit_and_follow(core, order, origin, listener, out, give_up=args.give_up)
    finally:
        await core.close()


async def characters_command(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """Print the characters of one server, newest first (the database only: no toapis)."""
    database = await open_database(settings.database_target, pool_size=settings.database_pool_size)
    try:
        characters = CharacterRepository(database)
        total = await characters.count_for_guild(args.guild)
        rows = await characters.list_for_guild(args.guild, limit=max(1, args.limit))
        print(f"{total} character(s) in server {args.guild}", file=out)
        for character in await characters.with_bindings(rows):
            print(character_row(character), file=out)
        return 0
    finally:
        await database.close()


def run_cli(argv: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run a CLI command (`create`, `characters`, `demo`, `doctor`); returns the exit code."""
    args = build_parser().parse_args(list(argv))
    if args.command == "demo":  # needs no settings at all
        from bot.cli.demo import run_demo

        setup_logging("ERROR", [])  # what the demo shows is printed; only errors besides
        return asyncio.run(run_demo(out))
    if args.command == "doctor":  # reports settings problems itself, all at once
        from bot.cli.doctor import run_doctor

        return run_doctor(out, quick=args.quick)
    try:
        settings = load_settings()
        setup_logging(
            "WARNING" if settings.log_level == "INFO" else settings.log_level,
            settings.secrets(),
            json_lines=settings.log_format == "json",
            quiet=not args.verbose,
        )
        if args.command == "create":
            return asyncio.run(create_command(settings, args, out))
        if args.command == "admin":
            return asyncio.run(run_admin(settings, args, out, err))
        return asyncio.run(characters_command(settings, args, out))
    except (ConfigError, RangeError, OrderError, MediaError, StorageError) as exc:
        hint = PRIVATE_HINT if "private network address" in str(exc) else ""
        print(f"error: {exc}{hint}", file=err)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the job resumes when the bot next starts", file=err)
        return 130
    except ProviderError as exc:  # e.g. the clip's upload; the account's own words for a terminal
        print(f"error: {ACCOUNT_REFUSED.get(type(exc).__name__, exc.user_message)}", file=err)
        return 1
