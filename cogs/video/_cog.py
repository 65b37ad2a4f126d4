"""`/video create`: put saved characters in a video, tracked like character jobs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.records import Character, Job, JobKind, JobState
from bot.providers.engines import ASPECT_RATIOS_OF, DURATIONS, VIDEO_MODELS, engine_of
from cogs.shared.handoffs import CHARACTERS, VIDEOS
from cogs.shared.i18n import tr
from cogs.shared.limits import refuse_if_limited
from cogs.shared.render import Rendered, job_locale
from cogs.shared.replies import GUILD_ONLY
from cogs.video._buttons import VIDEO_ITEMS, PromptModal, video_view
from cogs.video._flow import VideoFlow, refuse
from cogs.video._registry import VIDEO_COG
from cogs.video._result import video_result

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot
    from bot.runtime.container import Core

log = logging.getLogger(__name__)


def _model_label(model: str) -> str:
    engine = engine_of(model)
    allowed = DURATIONS[model]
    seconds = " or ".join(map(str, allowed)) if len(allowed) <= 2 else f"{allowed[0]}-{allowed[-1]}"
    return f"{model} ({engine.label if engine else model}, {seconds} s)"


MODEL_CHOICES = [app_commands.Choice(name=_model_label(m), value=m) for m in VIDEO_MODELS]
ALL_RATIOS = tuple(dict.fromkeys(r for ratios in ASPECT_RATIOS_OF.values() for r in ratios))
RATIO_CHOICES = [app_commands.Choice(name=r, value=r) for r in ALL_RATIOS]


class VideoCog(commands.Cog):
    """Videos starring this server's characters."""

    video = app_commands.Group(
        name="video",
        description="Make videos with your characters",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
    )

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        self.characters = CHARACTERS.get(bot)  # loaded first
        self.flow = VideoFlow(bot, self.characters.replies)

    @property
    def core(self) -> Core:
        """The core services."""
        assert self.bot.core is not None
        return self.bot.core

    async def cog_load(self) -> None:
        """The restart-proof buttons; offer the prompt form and finished videos."""
        VIDEO_COG.set(self.bot, self)
        VIDEOS.set(self.bot, self)
        self.bot.add_dynamic_items(*VIDEO_ITEMS)

    async def cog_unload(self) -> None:
        """Forget the buttons."""
        VIDEO_COG.clear(self.bot)
        VIDEOS.clear(self.bot)
        self.bot.remove_dynamic_items(*VIDEO_ITEMS)

    async def open_prompt_form(self, interaction: discord.Interaction, character_id: str) -> None:
        """The prompt form of a video starring the character ("Use in a video")."""
        await interaction.response.send_modal(
            PromptModal(self, [character_id], locale=interaction.locale.value)
        )

    @contextlib.asynccontextmanager
    async def finished_video(self, job: Job, *, allow_private: bool) -> AsyncIterator[Rendered]:
        """The finished video's message with its buttons (a downloaded file lives as long
        as the `with` block)."""
        async with video_result(job, allow_private=allow_private) as rendered:
            rendered.view = video_view(job.id, locale=job_locale(job))
            yield rendered

    @video.command(name="create", description="Make a video starring saved characters")
    @app_commands.describe(
        prompt="What happens; name the characters (written the chosen engine's way)",
        character="A character of this server",
        character2="Another character (optional)",
        character3="A third character (optional)",
        model="Which model, of any engine (default: the server's)",
        duration="Seconds: sora-2 10/15, sora-2-pro 15/25, Seedance 4-15, Vidu 3-16",
        aspect_ratio="16:9 (default) or 9:16 anywhere; Seedance adds 21:9, 4:3, 1:1, 3:4; Vidu 1:1",
    )
    @app_commands.choices(model=MODEL_CHOICES, aspect_ratio=RATIO_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 1000],
        character: app_commands.Range[str, 1, 100],
        character2: app_commands.Range[str, 1, 100] | None = None,
        character3: app_commands.Range[str, 1, 100] | None = None,
        model: app_commands.Choice[str] | None = None,
        duration: app_commands.Range[int, 3, 25] | None = None,
        aspect_ratio: app_commands.Choice[str] | None = None,
    ) -> None:
        """Check everything before any API call, then the shared tracker path."""
        chosen = [c for c in (character, character2, character3) if c]
        await self.flow.start(
            interaction,
            prompt,
            chosen,
            model=model.value if model else None,
            duration=duration,
            aspect_ratio=aspect_ratio.value if aspect_ratio else "16:9",
        )

    @create.autocomplete("character")
    @create.autocomplete("character2")
    @create.autocomplete("character3")
    async def character_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Up to 25 of this server's characters."""
        if interaction.guild_id is None:
            return []
        found = await self.core.characters.search(interaction.guild_id, current[:100], limit=25)
        return [app_commands.Choice(name=_label(c), value=c.character_id) for c in found]

    async def again(self, interaction: discord.Interaction, job_id: int) -> None:
        """ "Again": the same prompt, characters and settings."""
        old = await self.core.jobs.get(job_id)
        if old is None or old.kind is not JobKind.VIDEO or old.guild_id != interaction.guild_id:
            await refuse(interaction, tr(interaction, "That video is no longer known to the bot."))
            return
        await self.flow.start(
            interaction,
            str(old.request.get("prompt", "")),
            list(old.meta.get("character_ids") or []),
            model=old.model,
            duration=int(old.request.get("duration") or old.range_end),
            aspect_ratio=str(old.request.get("aspect_ratio") or "16:9"),
        )

    async def character_from(self, interaction: discord.Interaction, job_id: int) -> None:
        """ "Make a character from this": the range form with the video's task."""
        if interaction.guild_id is None:
            await refuse(interaction, tr(interaction, GUILD_ONLY))
            return
        old = await self.core.jobs.get(job_id)
        if (
            old is None
            or old.guild_id != interaction.guild_id  # checked by the button too; never trust it
            or old.task_id is None
            or old.state is not JobState.COMPLETED
        ):
            await refuse(interaction, tr(interaction, "That video is no longer known to the bot."))
            return
        if await refuse_if_limited(self.core, interaction):
            return
        model = (await self.core.guild_settings.get(interaction.guild_id)).default_model
        await self.characters.open_form_for_task(interaction, old.task_id, model)


def _label(character: Character) -> str:
    handle = f"@{character.username}" if character.username else "own likeness"
    label = f"{character.display_name} ({handle})"
    return label if len(label) <= 100 else label[:99] + "…"
