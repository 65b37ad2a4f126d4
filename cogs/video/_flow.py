"""Starting a video job: every check before any API call, then the same tracker path."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot.domain.records import BindingState, Character, Job, JobKind, NewJob, SourceKind
from bot.i18n import N_, translate
from bot.i18n.text import Text
from bot.jobs.create import Location, start_ready
from bot.jobs.video_cast import (
    LiveModel,
    cast_of,
    live_model,
    unbound_reason,
    video_request,
    works_on,
)
from bot.providers.engines import Engine, engine_of, ratio_problem
from bot.providers.video import default_duration, duration_problem
from cogs.shared.i18n import languages, tr, tr_refusal
from cogs.shared.limits import limited, reserve
from cogs.shared.render import (
    COLOR_WORKING,
    Rendered,
    job_locale,
    progress_bar,
    speaker,
    video_fields,
)
from cogs.shared.replies import GUILD_ONLY, original_reply_id, refuse_privately, show_job

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot
    from bot.runtime.container import Core
    from cogs.shared.replies import InteractionReplies

log = logging.getLogger(__name__)

VIDEOS_OFF = N_("Video generation is off in this server.")
BIND_FIRST_LIMIT = 600.0  # how long a video waits for its characters to be bound first


async def refuse(interaction: discord.Interaction, text: str) -> None:
    """A private answer (nothing was sent to toapis)."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


class VideoFlow:
    """`/video create`, "Again" and "Use in a video" all start here."""

    def __init__(self, bot: SoraBot, replies: InteractionReplies) -> None:
        self.bot = bot
        self.replies = replies

    @property
    def core(self) -> Core:
        """The core services."""
        assert self.bot.core is not None
        return self.bot.core

    async def start(
        self,
        interaction: discord.Interaction,
        prompt: str,
        character_ids: list[str],
        *,
        model: str | None = None,
        duration: int | None = None,
        aspect_ratio: str = "16:9",
    ) -> None:
        """Check everything, show the final prompt, and put the job in the submit line."""
        guild_id = interaction.guild_id
        if guild_id is None:
            await refuse(interaction, tr(interaction, GUILD_ONLY))
            return
        options = await self._options(
            guild_id, model, duration, aspect_ratio, character_ids, interaction.locale.value
        )
        if isinstance(options, str):
            await refuse(interaction, options)
            return
        live, duration, characters = options
        model = live.model
        engine = engine_of(model) or Engine.SORA
        request, written = video_request(
            model, prompt, [cast_of(c) for c in characters], duration, aspect_ratio
        )
        refusal = await limited(self.core, interaction, video=True)
        if refusal is not None:
            await refuse(interaction, refusal)
            return
        if written.unbound:  # bound first, from the kept stills (the reply says so)
            ready = await self._bind_first(interaction, characters, engine)
            if isinstance(ready, str):
                await refuse(interaction, ready)
                return
            characters = ready
            request, written = video_request(
                model, prompt, [cast_of(c) for c in characters], duration, aspect_ratio
            )
            if written.unbound:
                await refuse(
                    interaction, await self._not_bound(characters, engine, interaction.locale.value)
                )
                return
        final = written.prompt
        usernames = [c.username for c in characters if c.username] if engine is Engine.SORA else []
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True)
        meta = {
            **languages(interaction),
            "characters": usernames,
            "cast": [c.display_name for c in characters],
            "character_ids": list(dict.fromkeys(character_ids)),
            "model_note": str(live.note) if live.note is not None else None,
            "model_note_text": live.note.to_json() if live.note is not None else None,
            # The channel's upload limit, for the card posted long after the interaction.
            "filesize_limit": int(interaction.filesize_limit),
        }
        new = NewJob(
            guild_id=guild_id,
            source_kind=SourceKind.PROMPT,
            source_ref=final[:500],
            range_start=0,
            range_end=duration,
            model=model,
            provider=self.core.provider.name,
            channel_id=interaction.channel_id,
            message_id=await original_reply_id(interaction),
            requester_id=interaction.user.id,
            request=request.model_dump(),
            meta=meta,
            kind=JobKind.VIDEO,
        )
        job = await start_ready(
            self.core.tracker, _VideoFront(self, interaction), new, request, meta
        )
        if job is not None:
            log.info("video job %d in the submit line for %d", job.id, interaction.user.id)

    async def _options(
        self,
        guild_id: int,
        model: str | None,
        duration: int | None,
        aspect_ratio: str,
        character_ids: list[str],
        locale: str | None = None,
    ) -> tuple[LiveModel, int, list[Character]] | str:
        """The live model, the duration and the characters, or why they are refused (the
        model's and engine's own reasons are the core's, in English)."""
        settings = await self.core.guild_settings.get(guild_id)
        if not settings.video_enabled:
            return translate(locale, VIDEOS_OFF)
        live = live_model(
            self.core.provider.models, model or settings.default_model, chosen=model is not None
        )
        if not isinstance(live, LiveModel):
            return live.render(locale)
        if settings.video_models and live.model not in settings.video_models:
            return translate(
                locale,
                "This server allows videos with {models} only.",
                models=", ".join(settings.video_models),
            )
        duration = duration or default_duration(live.model)
        problem = duration_problem(live.model, duration) or ratio_problem(live.model, aspect_ratio)
        if problem is not None:
            return problem.render(locale)
        characters: list[Character] = []
        for character_id in dict.fromkeys(character_ids):
            character = await self.core.characters.get(guild_id, character_id, with_avatar=False)
            if character is None:
                return translate(
                    locale,
                    "That character is not in this server's library: pick one from the list.",
                )
            characters.append(character)
        return live, duration, characters

    async def _not_bound(
        self, characters: list[Character], engine: Engine, locale: str | None
    ) -> str:
        """Why chosen characters do not work on `engine` (those that do are left out)."""
        return "\n".join(
            unbound_reason(c, engine)[0].render(locale)
            for c in characters
            if not works_on(c, engine)
        )

    async def _bind_first(
        self, interaction: discord.Interaction, characters: list[Character], engine: Engine
    ) -> list[Character] | str:
        """Bind the chosen characters that do not work on `engine` yet from their kept
        stills (or wait for the binding already under way), then read them again; why
        not, when one cannot be bound."""
        binder = self.core.tracker.binder
        waiting: list[int] = []
        for character in characters:
            if works_on(character, engine):
                continue
            binding = character.binding(engine.value)
            under_way = binding is not None and binding.state is BindingState.PREPARING
            making = binding.data.get("job") if binding is not None and under_way else None
            if isinstance(making, int):  # a binding job is under way: wait for it
                waiting.append(making)
                continue
            reason, bindable = unbound_reason(character, engine)
            if not bindable or binder is None:
                return reason.render(interaction.locale.value)
            job = await binder.bind_existing(
                character,
                (engine.value,),
                self.core.tracker.enqueue,
                channel_id=None,
                requester_id=interaction.user.id,
            )
            if job is not None:
                waiting.append(job.id)
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True)
        names = ", ".join(c.display_name for c in characters if not works_on(c, engine))
        await interaction.edit_original_response(
            content=tr(
                interaction,
                "Preparing {names} for {engine} first (the kept stills are uploaded once); "
                "the video is sent right after.",
                names=discord.utils.escape_markdown(names),
                engine=engine.label,
            ),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        try:
            async with asyncio.timeout(BIND_FIRST_LIMIT):
                for job_id in waiting:
                    await self.core.tracker.wait(job_id)
        except TimeoutError:
            return tr(
                interaction,
                "{names} is still being prepared for {engine}: try again in a minute.",
                names=names,
                engine=engine.label,
            )
        guild_id = characters[0].guild_id
        fresh = []
        for character in characters:
            again = await self.core.characters.get(
                guild_id, character.character_id, with_avatar=False
            )
            if again is None:
                return tr(interaction, "That character is not in this server's library any more.")
            fresh.append(again)
        return fresh


class _VideoFront:
    """The reserve, show and submit steps (`bot.jobs.create`) for one interaction."""

    def __init__(self, flow: VideoFlow, interaction: discord.Interaction) -> None:
        self.flow = flow
        self.interaction = interaction

    async def reserve(self, new: NewJob) -> Job | str:
        """Store the member's video job within their limits, or the refusal."""
        return await reserve(self.flow.core, self.interaction, new)

    async def refuse(self, text: str | Text, cause: Exception | None = None) -> None:
        """Replace the public "thinking…" reply with a private message."""
        await refuse_privately(self.interaction, tr_refusal(self.interaction, text, cause))

    async def show_sending(self, job: Job) -> Location:
        """The reply shows the final prompt; its token is kept for the card."""
        return await show_job(
            self.flow.bot,
            self.interaction,
            sending(job),
            job,
            self.flow.replies,
        )


def sending(job: Job) -> Rendered:
    """The first reply: the final prompt, before toapis answers."""
    t = speaker(job_locale(job))
    embed = discord.Embed(
        title=t("Making a video"),
        description=f"{progress_bar(0)}\n{t('Sending the request to toapis…')}",
        colour=COLOR_WORKING,
    )
    return Rendered(embeds=[video_fields(embed, job)])
