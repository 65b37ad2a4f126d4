"""Embeds for character jobs and cards: what users see. Pure functions of stored records."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import discord

from bot.domain.ranges import format_clock
from bot.domain.records import BindingState, Character, Job, JobKind, JobState, SourceKind
from bot.i18n import N_
from bot.i18n.text import Text
from bot.jobs.binding import SEEDANCE, SORA, no_engine_text, reason_text, refusals_of
from bot.jobs.character_engines import engine_states
from bot.jobs.submit_line import Place
from cogs.shared.render import (
    COLOR_DONE,
    COLOR_FAILED,
    COLOR_WAITING,
    COLOR_WORKING,
    Rendered,
    Speaker,
    clean,
    job_locale,
    progress_bar,
    speaker,
    video_fields,
)

AVATAR_NAMES = {"image/jpeg": "avatar.jpg", "image/png": "avatar.png", "image/webp": "avatar.webp"}

_STATUS_WORDS = {
    JobState.SUBMITTING: N_("Sending the request to toapis…"),
    JobState.WAITING: N_("Queued at toapis: it is busy right now, retrying automatically."),
    JobState.QUEUED: N_("Waiting in the queue at toapis."),
    JobState.IN_PROGRESS: N_("Extracting the character."),
}

# WAITING because toapis refused the account itself: the job keeps its place in line.
HOLD_CODES = frozenset({"PaymentRequiredError", "AuthenticationError"})

_NEXT_STEPS = {
    "AuthenticationError": N_("The bot owner needs to fix the toapis key; try again later."),
    "PaymentRequiredError": N_("The bot owner needs to top up the toapis account."),
    "ModelUnavailableError": N_("Pick another model with the `model` option, or try again later."),
    "RateLimitedError": N_("toapis is busy: try again in a minute."),
    "ServiceUnavailableError": N_("toapis could not be reached: try again in a few minutes."),
    "no_audio": N_("Pick a video that has sound (toapis needs an audio track)."),
    "invalid_timestamps": N_("Pick a range inside the video's length."),
    "no_character": N_("Try a range where one character is clearly visible."),
    "gave_up": N_("Try again; if it keeps happening, try another moment or model."),
    "over_cap": N_("Try again after midnight UTC."),
}
_VIDEO_NEXT = N_("Try again, or change the prompt (toapis refuses some content).")
_DEFAULT_NEXT = N_(
    "Try another 1-3 s moment where one character is clearly visible, or another video."
)
# What engine_states says of a binding, in the member's words.
_BINDING_WORDS = {"ready": N_("ready"), "preparing": N_("preparing")}


def describe_source(job: Job, t: Speaker | None = None) -> str:
    """The source as a short, safe line."""
    t = t or speaker(job_locale(job))
    ref = job.source_ref
    if job.source_kind is SourceKind.TASK:
        return t("earlier task `{task_id}`", task_id=ref)
    if job.source_kind is SourceKind.ATTACHMENT:
        return t("attachment `{name}`", name=clean(ref, 80))
    return clean(ref, 200)


def describe_range(job: Job) -> str:
    """`0:01–0:03 (2 s)`."""
    span = round(job.range_end - job.range_start, 3)
    return f"{format_clock(job.range_start)}–{format_clock(job.range_end)} ({span:g} s)"


def _title(job: Job, t: Speaker) -> str:
    return t("Making a video") if job.kind is JobKind.VIDEO else t("Creating a character")


def _job_fields(embed: discord.Embed, job: Job, t: Speaker) -> discord.Embed:
    if job.kind is JobKind.VIDEO:
        return video_fields(embed, job)
    embed.add_field(name=t("Source"), value=describe_source(job, t), inline=False)
    embed.add_field(name=t("Range"), value=describe_range(job), inline=True)
    embed.add_field(name=t("Model"), value=job.model, inline=True)
    return embed


def render_progress(job: Job) -> Rendered:
    """The live reply while the job runs."""
    t = speaker(job_locale(job))
    stalled = job.stalled_at is not None
    if stalled:
        words = t(
            "Still running at toapis: this is taking longer than usual. The card will "
            "appear here when it is done; nothing more to do."
        )
    else:
        status = _STATUS_WORDS.get(job.state)
        words = t(status) if status else job.state.value
        if job.kind is JobKind.VIDEO and job.state is JobState.IN_PROGRESS:
            words = t("Generating the video (usually 1 to 5 minutes).")
        if job.state is JobState.WAITING and job.error_code in HOLD_CODES and job.error_message:
            words = _sentence(job_error(job) or job.error_message)
        elif job.state is JobState.WAITING and job.retry_at is not None:
            at = math.ceil(job.retry_at)
            words = t(
                "Queued at toapis: it is busy right now, retrying automatically "
                "<t:{at}:R> (at <t:{at}:T>).",
                at=at,
            )
    started = t("Started <t:{started}:R>", started=int(job.created_at))
    description = f"{progress_bar(job.progress)}\n{words}\n{started}"
    embed = discord.Embed(
        title=_title(job, t),
        description=description,
        colour=COLOR_WAITING if stalled else COLOR_WORKING,
    )
    _job_fields(embed, job, t)
    if job.task_id:
        embed.set_footer(text=t("Task {task_id}", task_id=job.task_id))
    return Rendered(embeds=[embed])


def place_words(place: Place, locale: str | None = None) -> str:
    """`#37 in line, about 10 s.` (and why the line is held, if it is), in `locale`."""
    t = speaker(locale)
    words = t(
        "#{number} in line, about {wait}.", number=place.number, wait=format_wait(place.eta, t)
    )
    if place.note:
        words += f"\n{_sentence(place.note.render(locale))}"
    return words


def format_wait(seconds: float, t: Speaker | None = None) -> str:
    """`10 s`, `2 min`."""
    t = t or speaker(None)
    if seconds < 60:
        return t("{seconds} s", seconds=max(1, math.ceil(seconds)))
    return t("{minutes} min", minutes=math.ceil(seconds / 60))


def _reason(why: str, t: Speaker) -> str:
    """A binding's stored reason in the card's language (an engine's words as they are)."""
    said = reason_text(why)
    return t(said.msgid, **said.params) if isinstance(said, Text) else said


def job_error(job: Job) -> str | None:
    """A job's stored error in its language: the core's msgid form kept in its meta when
    there is one, else `error_message` as stored (toapis' own words, or an older row)."""
    kept = Text.from_json(job.meta.get("error_text"))
    if kept is not None and job.error_message:
        return kept.render(job_locale(job))
    if job.error_code == "no_engine" and (reasons := refusals_of(job)):
        return no_engine_text(reasons).render(job_locale(job))
    return job.error_message


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def render_in_line(job: Job, place: Place) -> Rendered:
    """The reply while the job waits in the bot's line to be sent to toapis."""
    t = speaker(job_locale(job))
    started = t("Started <t:{started}:R>", started=int(job.created_at))
    description = f"{progress_bar(0)}\n{place_words(place, job_locale(job))}\n{started}"
    embed = discord.Embed(
        title=_title(job, t),
        description=description,
        colour=COLOR_WAITING if place.note else COLOR_WORKING,
    )
    _job_fields(embed, job, t)
    return Rendered(embeds=[embed])


def offers_likeness(character: Character, engines: tuple[str, ...]) -> bool:
    """Whether the card offers "Add the likeness": it keeps none, and the bot uses an
    engine that works from a likeness (`engines`: CHARACTER_ENGINES)."""
    return character.likeness is None and any(e != SORA for e in engines)


def render_card(
    job: Job | None,
    character: Character,
    *,
    now: float | None = None,
    offer_likeness: bool = True,
    locale: str | None = None,
) -> Rendered:
    """The character card (`job` may be missing for very old characters), in `locale`
    (default: the job's language)."""
    t = speaker(locale or job_locale(job))
    embed = discord.Embed(
        title=clean(character.display_name, 250) or t("New character"),
        description=(
            t("Use it in a Sora prompt: `@{username}`", username=character.username)
            if character.username
            else t("Ready to use in Sora prompts.")
        ),
        colour=COLOR_DONE,
    )
    if character.username:
        embed.add_field(name=t("Username"), value=f"`@{character.username}`", inline=True)
    else:
        embed.description = t("Ready to use in videos on the engines below.")
    embed.add_field(name=t("Engines"), value=engine_line(character, t), inline=False)
    notes = engine_notes(character, offer_likeness=offer_likeness, t=t)
    if notes:
        embed.add_field(name=t("Notes"), value="\n".join(notes), inline=False)
    requester_id = job.requester_id if job else character.creator_id
    if job is not None:
        embed.add_field(name=t("Model"), value=job.model, inline=True)
        embed.add_field(name=t("Time taken"), value=_duration(job, now, t), inline=True)
        embed.add_field(name=t("Source"), value=describe_source(job, t), inline=False)
        embed.add_field(name=t("Range"), value=describe_range(job), inline=True)
    requester = f"<@{requester_id}>" if requester_id else t("unknown")
    embed.add_field(name=t("Requested by"), value=requester, inline=True)
    embed.add_field(name=t("Character id"), value=f"`{character.character_id}`", inline=False)
    embed.add_field(name=t("Task id"), value=f"`{character.task_id}`", inline=False)
    embed.timestamp = datetime.fromtimestamp(character.created_at, tz=UTC)
    avatar = None
    if character.avatar:
        name = AVATAR_NAMES.get(character.avatar_mime or "", "avatar.jpg")
        embed.set_thumbnail(url=f"attachment://{name}")
        avatar = (name, character.avatar)
    content = f"<@{requester_id}>" if requester_id else None
    return Rendered(content=content, embeds=[embed], avatar=avatar)


def engine_line(character: Character, t: Speaker | None = None) -> str:
    """`Sora 2 @user.abc · Seedance 2 ready · Vidu Q3 preparing`, then why one does not
    work, one engine per line."""
    t = t or speaker(None)
    states = engine_states(character, mention=lambda name: f"`@{name}`")
    working = [
        f"{label} {t(_BINDING_WORDS[what]) if what in _BINDING_WORDS else what}"
        for label, what, why in states
        if why is None
    ]
    refused = [
        f"{label}: {clean(_reason(why, t), 200)}" for label, _, why in states if why is not None
    ]
    lines = [" · ".join(working) if working else t("None yet"), *refused]
    return "\n".join(lines)


def engine_notes(
    character: Character, *, offer_likeness: bool = True, t: Speaker | None = None
) -> list[str]:
    """What a member should know about the character's engines and likeness."""
    t = t or speaker(None)
    notes = []
    if character.likeness is None and offer_likeness:
        notes.append(
            t(
                "No likeness is kept for this character (made before the bot kept one, or "
                "from a task whose video could not be read): it works on Sora 2 only."
            )
        )
    seedance = character.binding(SEEDANCE)
    if seedance is not None and seedance.state is not BindingState.REFUSED:
        notes.append(
            t(
                "Seedance 2 private avatars are meant for virtual characters; a real person "
                "needs Seedance's own verification, which this bot does not offer."
            )
        )
    return notes


def render_cancelled(job: Job) -> Rendered:
    """A job the member cancelled (before or after it was sent)."""
    t = speaker(job_locale(job))
    if job.task_id is None:
        words = t("Cancelled before it was sent to toapis; nothing was charged.")
    else:
        words = t(
            "Cancelled. toapis has no cancel, so the task may still finish: if it does, "
            "the character is kept in this server's library, without a ping."
        )
    embed = discord.Embed(
        title=t("Cancelled"), description=words, colour=discord.Colour.dark_grey()
    )
    return Rendered(embeds=[_job_fields(embed, job, t)])


def render_failure(job: Job) -> Rendered:
    """Why the job failed, in plain words, and what to do next."""
    if job.error_code == "cancelled":
        return render_cancelled(job)
    t = speaker(job_locale(job))
    reason = job_error(job) or t("toapis could not create a character from this moment.")
    next_step = t(_NEXT_STEPS.get(job.error_code or "", _DEFAULT_NEXT))
    title = t("Couldn't create a character")
    if job.kind is JobKind.VIDEO:
        next_step = t(_NEXT_STEPS.get(job.error_code or "", _VIDEO_NEXT))
        title = t("Couldn't make the video")
    what_next = t("**What to do next:** {next_step}", next_step=next_step)
    embed = discord.Embed(
        title=title,
        description=f"{clean(reason, 1000)}\n\n{what_next}",
        colour=COLOR_FAILED,
    )
    _job_fields(embed, job, t)
    if job.task_id:
        embed.set_footer(text=t("Task {task_id}", task_id=job.task_id))
    return Rendered(embeds=[embed])


def render_unknown(job: Job) -> Rendered:
    """A submission whose fate is unknown (the bot stopped while sending it)."""
    t = speaker(job_locale(job))
    interrupted = t(
        "The bot stopped while sending this request, so it is not known whether toapis received it."
    )
    reason = (job_error(job) or interrupted) if job.error_code == "uncertain" else interrupted
    advice = t(
        "It was not sent again automatically, to avoid paying twice. If no card appears, "
        "press **Retry** to send it again (if the first request did arrive, toapis may "
        "charge for both)."
    )
    embed = discord.Embed(
        title=t("Unknown: may or may not have been submitted"),
        description=f"{clean(reason or interrupted, 600)} {advice}",
        colour=COLOR_WAITING,
    )
    return Rendered(embeds=[_job_fields(embed, job, t)])


def render_ping(job: Job, count: int) -> str:
    """The short message that pings the requester when the card is ready."""
    t = speaker(job_locale(job))
    if count == 1:
        return t("<@{member}> Your character is ready.", member=job.requester_id)
    return t("<@{member}> Your {count} characters are ready.", member=job.requester_id, count=count)


def _duration(job: Job, now: float | None, t: Speaker) -> str:
    end = job.finished_at or now or time.time()
    seconds = max(0, int(end - job.created_at))
    minutes, seconds = divmod(seconds, 60)
    if minutes:
        return t("{minutes} min {seconds} s", minutes=minutes, seconds=seconds)
    return t("{seconds} s", seconds=seconds)
