"""A video with characters from a terminal (the demo's last step): the prompt written the
engine's way, checked before any call, and sent through the same submit line as in
Discord. The stills' uploaded URLs are never printed (they are public)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from bot.cli.console import TerminalFront
from bot.domain.records import Character, Job, JobKind, NewJob, SourceKind
from bot.jobs.create import Location, start_ready
from bot.jobs.video_cast import LiveModel, cast_of, live_model, unbound_reason, video_request
from bot.media.orders import OrderError
from bot.providers.casting import CastPrompt
from bot.providers.engines import (
    Engine,
    default_duration,
    duration_problem,
    engine_of,
    ratio_problem,
)
from bot.runtime.container import Core


class TerminalVideoFront(TerminalFront):
    """The reserve, show and submit steps (`bot.jobs.create`) of a video at a terminal:
    the owner's, without member limits; a refusal raised as an error."""

    async def show_sending(self, job: Job) -> Location:
        """Nothing more to show: the prompt was printed before it was stored."""
        return None


def references(written: CastPrompt) -> str | None:
    """What goes with the prompt, in words (no URL)."""
    if written.image_with_roles:
        count = len(written.image_with_roles)
        return f"with {count} reference image(s): the characters' active Seedance assets"
    if written.subjects:
        subjects = ", ".join(f"@{s.name} ({len(s.images)} stills)" for s in written.subjects)
        return f"with subject(s) {subjects}"
    return None


async def start_video(
    core: Core,
    guild: int,
    model: str,
    prompt: str,
    characters: Sequence[Character],
    out: TextIO,
    *,
    duration: int | None = None,
    aspect_ratio: str = "16:9",
) -> Job | None:
    """Check, print the prompt as sent and put the video in the submit line (an
    `OrderError` says why it cannot be made); the job, or None if refused meanwhile."""
    live = live_model(core.provider.models, model, chosen=True)
    if not isinstance(live, LiveModel):
        raise OrderError(live)
    seconds = duration or default_duration(model)
    problem = duration_problem(model, seconds) or ratio_problem(model, aspect_ratio)
    if problem is not None:
        raise OrderError(problem)
    engine = engine_of(model) or Engine.SORA
    request, written = video_request(
        model, prompt, [cast_of(c) for c in characters], seconds, aspect_ratio
    )
    if written.unbound:
        unbound = [c for c in characters if c.display_name in written.unbound]
        raise OrderError(" ".join(str(unbound_reason(c, engine)[0]) for c in unbound))
    print(f"{model}, {seconds} s, {aspect_ratio}: prompt sent: {written.prompt!r}", file=out)
    extra = references(written)
    if extra is not None:
        print(f"  {extra}", file=out, flush=True)
    meta = {
        "cast": [c.display_name for c in characters],
        "character_ids": [c.character_id for c in characters],
    }
    new = NewJob(
        guild_id=guild,
        source_kind=SourceKind.PROMPT,
        source_ref=written.prompt[:500],
        range_start=0,
        range_end=seconds,
        model=model,
        provider=core.provider.name,
        request=request.model_dump(),
        meta=meta,
        kind=JobKind.VIDEO,
    )
    return await start_ready(
        core.tracker, TerminalVideoFront(core.tracker, out), new, request, meta
    )
