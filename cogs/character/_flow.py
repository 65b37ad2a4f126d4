"""The create flow shared by the slash command, the context menu, the reaction button, the
range form, suggestions and "Create from same video": the Discord front of the create
steps in `bot.jobs.create` (it asks and renders; the steps decide)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.ranges import ClipRange, RangeError, format_clock, format_seconds
from bot.domain.records import Job, NewJob
from bot.i18n.text import Text
from bot.jobs.character_engines import server_engines
from bot.jobs.create import Location, Origin, start_character
from bot.media.intake import DEFAULT_PREVIEW_LIMIT, PreparedSource
from bot.media.orders import (
    AttachmentInfo,
    CreateOrder,
    OrderError,
    find_links,
    plan_order,
)
from cogs.character._updater import MessageUpdater
from cogs.character._writes import DiscordWrites
from cogs.shared.i18n import languages, tr, tr_refusal
from cogs.shared.limits import limited, reserve
from cogs.shared.render import Rendered, progress_bar, speaker
from cogs.shared.replies import (
    GUILD_ONLY,
    InteractionReplies,
    original_reply_id,
    refuse_privately,
    show_job,
)

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot
    from bot.runtime.container import Core

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source without a range yet: what the modal needs to build an order."""

    video: AttachmentInfo | None = None
    url: str | None = None
    from_task: str | None = None
    meta: dict[str, Any] | None = None
    # A message whose video is looked up when the form is submitted (so the form opens at
    # once, within Discord's 3 s), and what to use if that message is gone.
    message_ref: tuple[int, int] | None = None
    fallback: SourceSpec | None = None
    # A saved clip of the source: ranges are given in source time and must fall inside
    # [clip_start, clip_end]; they are shifted to clip time.
    clip_start: float | None = None
    clip_end: float | None = None

    def order(self, core: Core, start: str, end: str, model: str | None) -> CreateOrder:
        """Check the range and model against this source (no I/O)."""
        if self.clip_start is not None and self.clip_end is not None:
            return self._clip_order(core, start, end, model)
        return plan_order(
            video=self.video,
            url=self.url,
            from_task=self.from_task,
            start=start,
            end=end,
            model=model,
            allow_private=core.settings.allow_private_urls,
        )

    def _clip_order(self, core: Core, start: str, end: str, model: str | None) -> CreateOrder:
        assert self.clip_start is not None and self.clip_end is not None
        try:
            clip = ClipRange.parse(start, end)
        except RangeError as exc:
            raise OrderError(exc.text) from None
        if clip.start < self.clip_start - 0.001 or clip.end > self.clip_end + 0.001:
            raise OrderError(
                Text(
                    "Only {start}–{end} of that video was kept (the original attachment "
                    "link has expired). For another moment, run `/character create` with "
                    "the file again.",
                    start=format_clock(self.clip_start),
                    end=format_clock(self.clip_end),
                )
            )
        order = plan_order(
            url=self.url,
            start=clip.start - self.clip_start,
            end=clip.end - self.clip_start,
            model=model,
            allow_private=True,  # our own upload at toapis
        )
        return replace(order, reference=self.reference or order.reference)

    @property
    def reference(self) -> str | None:
        """The name shown for a saved clip (the original file's name)."""
        return self.meta.get("name") if self.meta else None


def attachment_info(video: discord.Attachment) -> AttachmentInfo:
    """What the core needs of a Discord attachment."""
    return AttachmentInfo(
        url=video.url, filename=video.filename, size=video.size, content_type=video.content_type
    )


def source_from_message(message: discord.Message) -> SourceSpec | None:
    """The first video attachment of a message, else its first link; None if neither."""
    for attached in message.attachments:
        content_type = attached.content_type or ""
        if content_type.startswith("video/") or attached.filename.lower().endswith(
            (".mp4", ".mov", ".webm", ".m4v")
        ):
            return SourceSpec(
                video=attachment_info(attached),
                meta={"channel_id": message.channel.id, "message_id": message.id},
            )
    for embed in message.embeds:
        if embed.video and embed.video.url and embed.url:
            return SourceSpec(url=embed.url)
    links = find_links(message.content)
    return SourceSpec(url=links[0]) if links else None


def _likeness_for(meta: dict[str, Any] | None) -> int | None:
    """The character a create keeps the likeness of ("Add the likeness"), if any."""
    value = (meta or {}).get("likeness_for")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class CreateFlow:
    """Runs an order for an interaction that has not been answered yet."""

    def __init__(self, bot: SoraBot, writes: DiscordWrites | None = None) -> None:
        self.bot = bot
        self.writes = writes if writes is not None else DiscordWrites()
        self.replies = InteractionReplies()  # tokens of job replies, memory only

    @property
    def core(self) -> Core:
        """The core services."""
        assert self.bot.core is not None
        return self.bot.core

    async def settle_source(self, spec: SourceSpec) -> SourceSpec | None:
        """A spec pointing at a message becomes that message's video (or the fallback)."""
        if spec.message_ref is None:
            return spec
        channel_id, message_id = spec.message_ref
        try:
            channel = self.bot.get_partial_messageable(channel_id)
            message = await channel.fetch_message(message_id)
        except discord.HTTPException:
            return spec.fallback
        found = source_from_message(message)
        if found is not None and spec.meta:  # what the form was opened for goes on
            found = dataclasses.replace(found, meta={**(found.meta or {}), **spec.meta})
        return found or spec.fallback

    async def default_name(self, guild_id: int, member: discord.abc.User) -> str:
        """ "<member>'s character N": the name of a character no service named."""
        made = await self.core.characters.count_for_guild(guild_id, creator_id=member.id)
        return f"{member.display_name}'s character {made + 1}"[:80]

    async def run(
        self,
        interaction: discord.Interaction,
        order: CreateOrder,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Defer, store the job, prepare the source (I/O), show the clip, submit."""
        if interaction.guild_id is None:
            await interaction.response.send_message(tr(interaction, GUILD_ONLY), ephemeral=True)
            return
        settings = await self.core.guild_settings.get(interaction.guild_id)
        meta = {**(meta or {}), **languages(interaction)}
        origin = Origin(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            requester_id=interaction.user.id,
            meta=meta,
            preview_limit=int(getattr(interaction, "filesize_limit", DEFAULT_PREVIEW_LIMIT)),
            engines=server_engines(self.core.settings.engine_list, settings.engines),
            name=str((meta or {}).get("chosen_name") or "")
            or await self.default_name(interaction.guild_id, interaction.user),
            character=_likeness_for(meta),
        )
        front = InteractionFront(self, interaction, order)
        job = await start_character(self.core, front, order, origin)
        if job is not None:
            log.info(
                "job %d in the submit line for %d in guild %d",
                job.id,
                interaction.user.id,
                interaction.guild_id,
            )


class InteractionFront:
    """The create steps (`bot.jobs.create`) for one interaction: its reply shows the job."""

    def __init__(
        self, flow: CreateFlow, interaction: discord.Interaction, order: CreateOrder
    ) -> None:
        self.flow = flow
        self.interaction = interaction
        self.order = order

        async def edit(rendered: Rendered) -> None:
            await interaction.edit_original_response(**rendered.body(edit=True))

        self._updater = MessageUpdater(edit, min_interval=2.0, gate=flow.writes.wait)

    async def limited(self) -> str | None:
        """The spending limits' early answer."""
        return await limited(self.flow.core, self.interaction)

    async def reserve(self, new: NewJob) -> Job | str:
        """Store the member's job within their limits, or the refusal."""
        return await reserve(self.flow.core, self.interaction, new)

    async def refuse(self, text: str | Text, cause: Exception | None = None) -> None:
        """Replace the public "thinking…" reply (if any) with a private message."""
        await refuse_privately(self.interaction, tr_refusal(self.interaction, text, cause))

    async def started(self) -> None:
        """The public "thinking…" reply (the range form defers before reading)."""
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(thinking=True)

    async def reply_id(self) -> int | None:
        """The deferred reply's id."""
        return await original_reply_id(self.interaction)

    def tell_place(self, number: int, *, waiting: bool, note: Text | None) -> None:
        """Show the job's place in line (edits at most every 2 s, newest wins)."""
        self._updater.push(
            preparing(
                self.order,
                number,
                waiting=waiting,
                note=note,
                locale=self.interaction.locale.value,
            )
        )

    async def quiet(self) -> None:
        """No more place updates."""
        await self._updater.cancel()

    async def show_clip(self, order: CreateOrder, prepared: PreparedSource, job: Job) -> Location:
        """The reply shows the clip sent; its token is kept for the card."""
        shown = sending(order, prepared, locale=self.interaction.locale.value)
        return await show_job(
            self.flow.bot,
            self.interaction,
            shown,
            job,
            self.flow.replies,
        )


def preparing(
    order: CreateOrder,
    number: int,
    *,
    waiting: bool = False,
    note: Text | None = None,
    locale: str | None = None,
) -> Rendered:
    """The reply while the video waits for (or has) a media worker: its place in line."""
    t = speaker(locale)
    if waiting:
        words = t("#{number} in line: waiting to prepare the video.", number=number)
    elif number > 1:
        words = t("#{number} in line: preparing the video.", number=number)
    else:
        words = t("Preparing the video…")
    if note:
        said = note.render(locale)
        words += f"\n{said[:1].upper()}{said[1:]}."
    embed = discord.Embed(
        title=t("Creating a Sora character"),
        description=f"{progress_bar(0)}\n{words}",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name=t("Range"), value=str(order.clip), inline=True)
    embed.add_field(name=t("Model"), value=order.model, inline=True)
    return Rendered(embeds=[embed])


def sending(
    order: CreateOrder, prepared: PreparedSource | None = None, *, locale: str | None = None
) -> Rendered:
    """The reply while the request is being sent: what was picked, and the clip."""
    t = speaker(locale)
    embed = discord.Embed(
        title=t("Creating a Sora character"),
        description=f"{progress_bar(0)}\n{t('Sending the request to toapis…')}",
        colour=discord.Colour.blurple(),
    )
    text = discord.utils.escape_markdown(order.reference)
    embed.add_field(
        name=t("Source"), value=text if len(text) <= 200 else text[:199] + "…", inline=False
    )
    embed.add_field(name=t("Range"), value=str(order.clip), inline=True)
    embed.add_field(name=t("Model"), value=order.model, inline=True)
    avatar = None
    if prepared is not None and prepared.clip_offset is not None:
        embed.add_field(
            name=t("Clip sent"),
            value=t(
                "Cut from {offset} and uploaded; toapis reads {start}–{end} s of it.",
                offset=format_clock(prepared.clip_offset),
                start=format_seconds(prepared.start),
                end=format_seconds(prepared.end),
            ),
            inline=False,
        )
    if prepared is not None and prepared.preview and prepared.preview_name:
        avatar = (prepared.preview_name, prepared.preview)
        if prepared.preview_name.endswith(".jpg"):
            embed.set_image(url=f"attachment://{prepared.preview_name}")
    return Rendered(embeds=[embed], avatar=avatar)
