"""Run the toapis simulator from a shell: `python -m bot.simulator --help`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Sequence

from bot.simulator.scenario import Scenario
from bot.simulator.server import Simulator

log = logging.getLogger("bot.simulator")


def _steps(text: str) -> list[int]:
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected integers like 10,35,60,85") from exc
    if any(not 0 <= step <= 100 for step in steps):
        raise argparse.ArgumentTypeError("progress steps must be between 0 and 100")
    return steps


# Failure codes a task can end with, and the message toapis gives (contract section 2).
FAILURES = {
    "generation_failed": "Generation failed: Content violates the content policy",
    "no_character": "Generation failed: no character was found in the selected range",
    "invalid_timestamps": "Generation failed: the timestamps are outside the video",
    "no_audio": "Generation failed: the video has no audio track",
    "internal_error": "Generation failed: internal error, please retry",
}


def _failure(text: str) -> tuple[str, str]:
    code, sep, message = text.partition(":")
    if not code:
        raise argparse.ArgumentTypeError("expected CODE or CODE:MESSAGE")
    if sep:
        return code, message
    if code not in FAILURES:
        known = ", ".join(FAILURES)
        raise argparse.ArgumentTypeError(
            f"unknown code {code!r}: use one of {known}, or CODE:MESSAGE for your own"
        )
    return code, FAILURES[code]


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    defaults = Scenario()
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulator",
        description="A local simulator of the toapis video API (characters, videos, engines).",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add("--port", type=int, default=8787, help="port to bind, 0 for any (default: %(default)s)")
    add("--api-key", default=defaults.api_key, help="accepted Bearer key (default: %(default)s)")
    add("--latency", type=float, default=defaults.latency, help="seconds before every answer")
    add(
        "--queued-for",
        type=float,
        default=defaults.queued_for,
        help="seconds a new task stays queued (default: %(default)s)",
    )
    add(
        "--step-interval",
        type=float,
        default=defaults.step_interval,
        help="seconds between progress steps (default: %(default)s)",
    )
    add(
        "--progress-steps",
        type=_steps,
        default=list(defaults.progress_steps),
        help="comma-separated progress values shown while in progress (default: 10,35,60,85)",
    )
    add(
        "--fail",
        type=_failure,
        default=None,
        metavar="CODE[:MESSAGE]",
        help="tasks end failed with this code: "
        + ", ".join(FAILURES)
        + " (each with toapis' usual message), or any CODE:MESSAGE",
    )
    add(
        "--characters",
        type=int,
        default=defaults.characters,
        help="characters per completed task (default: %(default)s)",
    )
    add(
        "--hang",
        action="store_true",
        help="tasks stay in_progress until released with "
        """`curl -X POST -d '{"hang": false}' BASE_URL/_sim/scenario`""",
    )
    add("--rate-limit-submits", type=int, default=0, help="the first N submits answer 429")
    add("--rate-limit-queries", type=int, default=0, help="the first N status queries answer 429")
    add("--server-errors", type=int, default=0, help="the first N API requests answer 500")
    add(
        "--characters-tasks-404",
        action="store_true",
        help="GET /v1/characters_tasks/{id} answers 404 (clients must fall back)",
    )
    add(
        "--tier",
        choices=("default", "vip", "svip"),
        default=None,
        help="enforce this toapis tier's submit and query limits (sliding windows per "
        "second and per 10 s; 429 with Retry-After; counters at /_sim/limits)",
    )
    add("--no-check-media", action="store_true", help="do not download and probe task URLs")
    add(
        "--retire",
        action="append",
        default=[],
        metavar="MODEL",
        help="answer create requests for MODEL with 400 model_not_found (repeatable)",
    )
    add("--retire-sora", action="store_true", help="the whole sora-2 family is retired")
    add(
        "--refuse-faces",
        action="store_true",
        help="private-avatar images with a face in them end failed",
    )
    add(
        "--vidu-needs-image-urls",
        action="store_true",
        help="viduq3 requests without image_urls answer 400 asking for them",
    )
    add(
        "--asset-delay",
        type=float,
        default=defaults.asset_delay,
        help="seconds a private-avatar asset stays processing (default: %(default)s)",
    )
    add("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return parser


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    """The scenario the options describe."""
    return Scenario(
        api_key=args.api_key,
        latency=args.latency,
        queued_for=args.queued_for,
        progress_steps=args.progress_steps,
        step_interval=args.step_interval,
        fail_with=args.fail,
        characters=args.characters,
        hang=args.hang,
        rate_limit_submits=args.rate_limit_submits,
        rate_limit_queries=args.rate_limit_queries,
        server_errors=args.server_errors,
        characters_tasks_404=args.characters_tasks_404,
        check_media=not args.no_check_media,
        retired_models=list(args.retire),
        tier=args.tier,
        sora_retired=args.retire_sora,
        refuse_faces=args.refuse_faces,
        vidu_needs_image_urls=args.vidu_needs_image_urls,
        asset_delay=args.asset_delay,
    )


async def serve(host: str, port: int, scenario: Scenario) -> None:
    """Run a simulator until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    simulator = Simulator(scenario)
    base_url = await simulator.start(host, port)
    try:
        if scenario.hang:
            print(
                "tasks hang in_progress; release them with: curl -X POST -d "
                f"""'{{"hang": false}}' {base_url}/_sim/scenario""",
                flush=True,
            )
        print(f"toapis simulator listening on {base_url} (API key: {scenario.api_key})", flush=True)
        log.info(
            "point the bot at it with: TOAPIS_BASE_URL=%s TOAPIS_API_KEY=%s "
            "ALLOW_PRIVATE_URLS=true",
            base_url,
            scenario.api_key,
        )
        await stop.wait()
        log.info("stopping")
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bot.simulator`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(args.host, args.port, scenario_from_args(args)))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the address is taken or cannot be bound
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc.strerror}"
        print(
            f"error: listening on {args.host}:{args.port} {reason}; "
            "pick another port with --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
