"""The create flow shared by the slash command, the context menu, the reaction button and
"Create from same video": defer, check the source, show the reply, submit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.ranges import ClipRange, RangeError, format_clock, format_seconds
from bot.domain.records import JobState
from bot.jobs.line import Place
from bot.media.errors import MediaError
from bot.media.intake import DEFAULT_PREVIEW_LIMIT, PreparedSource
from bot.media.orders import (
    AttachmentInfo,
    CreateOrder,
    OrderError,
    find_links,
    plan_order,
    resolve,
)
from bot.providers.base import CharacterRequest, ProviderError
from cogs.character._updater import MessageUpdater
from cogs.character._writes import DiscordWrites
from cogs.shared.limits import limited, reserve
from cogs.shared.render import Rendered, progress_bar
from cogs.shared.replies import GUILD_ONLY, InteractionReplies, original_reply_id

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
            raise OrderError(str(exc)) from None
        if clip.start < self.clip_start - 0.001 or clip.end > self.clip_end + 0.001:
            raise OrderError(
                f"Only {format_clock(self.clip_start)}–{format_clock(self.clip_end)} of that "
                "video was kept (the original attachment link has expired). For another "
                "moment, run `/character create` with the file again."
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
        return source_from_message(message) or spec.fallback

    async def run(
        self,
        interaction: discord.Interaction,
        order: CreateOrder,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Defer, store the job, prepare the source (I/O), show the clip, submit."""
        if interaction.guild_id is None:
            await interaction.response.send_message(GUILD_ONLY, ephemeral=True)
            return
        gone = self.core.provider.models.unavailable(order.model)
        refusal = gone.user_message if gone is not None else await limited(self.core, interaction)
        if refusal is not None:  # over a limit, or a model refused a moment ago: send nothing
            if interaction.response.is_done():
                await self._refuse(interaction, refusal)
            else:
                await interaction.response.send_message(
                    refusal, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
            return
        if not interaction.response.is_done():  # the range form defers before reading
            await interaction.response.defer(thinking=True)
        try:
            order = await resolve(order, allow_private=self.core.settings.allow_private_urls)
            await self.core.check_task_source(interaction.guild_id, order)
        except OrderError as exc:
            await self._refuse(interaction, str(exc))
            return
        # The job is stored before any media work, so it is never lost, and its reply
        # shows its place while it waits for a worker. Storing it is what holds the
        # limits: the check above only answers early.
        reply_id = await original_reply_id(interaction)
        job = await reserve(
            self.core,
            interaction,
            order.new_job(
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                message_id=reply_id,
                requester_id=interaction.user.id,
                provider=self.core.provider.name,
                meta=meta,
            ),
        )
        if isinstance(job, str):  # a burst passed the early check: this one is over
            await self._refuse(interaction, job)
            return
        line = _LineNotice(interaction, order, self.writes)
        self.core.tracker.line.watch(job.id, line.tell_place)  # one place across both phases
        limit = int(getattr(interaction, "filesize_limit", DEFAULT_PREVIEW_LIMIT))
        try:
            prepared = await self.core.intake.prepare(order, preview_limit=limit, watcher=line.tell)
        except (MediaError, ProviderError) as exc:
            text = exc.user_message if isinstance(exc, ProviderError) else str(exc)
            await line.stop()
            await self.core.tracker.abandon(job.id)
            await self._refuse(interaction, text)
            return
        except BaseException:
            await line.stop()
            await self.core.tracker.abandon(job.id)
            raise
        await line.stop()
        if await self._cancelled_meanwhile(job.id):
            return
        async with self.core.tracker.abandoned_on_error(job.id):
            shown = sending(order, prepared)
            reply = await interaction.edit_original_response(
                embeds=shown.embeds, attachments=shown.files()
            )
            self.replies.remember(reply.id, interaction)
            request = CharacterRequest(
                model=order.model,
                start=prepared.start,
                end=prepared.end,
                url=prepared.url,
                from_task=prepared.from_task,
            )
            job = await self.core.tracker.submit_prepared(
                job,
                request,
                {**(meta or {}), **_source_meta(order, prepared)},
                message=(reply.channel.id, reply.id),
            )
        log.info(
            "job %d in the submit line for %d in guild %d",
            job.id,
            interaction.user.id,
            interaction.guild_id,
        )

    async def _cancelled_meanwhile(self, job_id: int) -> bool:
        """The member cancelled while the video was prepared (the reply says so already)."""
        stored = await self.core.jobs.get(job_id)
        return stored is None or stored.state is not JobState.PREPARING

    @staticmethod
    async def _refuse(interaction: discord.Interaction, text: str) -> None:
        """Replace the public "thinking…" reply with a private message."""
        await interaction.delete_original_response()
        await interaction.followup.send(text, ephemeral=True)


class _LineNotice:
    """Shows a job's place in line while its video is prepared (newest wins).

    One number for the member: the job's place in the bot's submit line (every job ahead,
    preparing or waiting to be sent), and while it waits for a media worker at least one
    more than the jobs ahead of it there.
    """

    def __init__(
        self, interaction: discord.Interaction, order: CreateOrder, writes: DiscordWrites
    ) -> None:
        self.order = order
        self.waited = False
        self.stopped = False
        self.media_ahead: int | None = None
        self.place: Place | None = None

        async def edit(rendered: Rendered) -> None:
            await interaction.edit_original_response(embeds=rendered.embeds)

        self._updater = MessageUpdater(edit, min_interval=2.0, gate=writes.wait)

    def tell(self, ahead: int | None) -> None:
        """The media pool's watcher: `ahead` jobs before this one, None once it is working."""
        if self.stopped or (ahead is None and not self.waited):
            return
        self.waited = True
        self.media_ahead = ahead
        self._show()

    def tell_place(self, job: object, place: Place) -> None:
        """The submit line's watcher: the job's place changed."""
        if self.stopped:
            return
        self.place = place
        self._show()

    def _show(self) -> None:
        number = self.place.number if self.place is not None else 1
        if self.media_ahead is not None:
            number = max(number, self.media_ahead + 1)
        note = self.place.note if self.place is not None else None
        self._updater.push(
            preparing(self.order, number, waiting=self.media_ahead is not None, note=note)
        )

    async def stop(self) -> None:
        """No more line updates (the caller edits the reply next)."""
        self.stopped = True
        await self._updater.cancel()


def _source_meta(order: CreateOrder, prepared: PreparedSource) -> dict[str, Any]:
    """What "Create from same video" needs to fetch the source again."""
    source: dict[str, Any] = {
        "kind": order.kind.value,
        "url": order.url,
        "from_task": order.from_task,
        "name": order.reference,
    }
    if prepared.uploaded and prepared.clip_offset is not None:
        source["clip_url"] = prepared.url
        source["clip_offset"] = prepared.clip_offset
        # The cut keeps a 1 s margin after the range (less at the very end of a video,
        # where the probe of the clip then explains the limit).
        source["clip_end"] = prepared.clip_offset + prepared.end + 1.0
    return {"source": source}


def preparing(
    order: CreateOrder, number: int, *, waiting: bool = False, note: str | None = None
) -> Rendered:
    """The reply while the video waits for (or has) a media worker: its place in line."""
    if waiting:
        words = f"#{number} in line: waiting to prepare the video."
    elif number > 1:
        words = f"#{number} in line: preparing the video."
    else:
        words = "Preparing the video…"
    if note:
        words += f"\n{note[:1].upper()}{note[1:]}."
    embed = discord.Embed(
        title="Creating a Sora character",
        description=f"{progress_bar(0)}\n{words}",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Range", value=str(order.clip), inline=True)
    embed.add_field(name="Model", value=order.model, inline=True)
    return Rendered(embeds=[embed])


def sending(order: CreateOrder, prepared: PreparedSource | None = None) -> Rendered:
    """The reply while the request is being sent: what was picked, and the clip."""
    embed = discord.Embed(
        title="Creating a Sora character",
        description=f"{progress_bar(0)}\nSending the request to toapis…",
        colour=discord.Colour.blurple(),
    )
    text = discord.utils.escape_markdown(order.reference)
    embed.add_field(
        name="Source", value=text if len(text) <= 200 else text[:199] + "…", inline=False
    )
    embed.add_field(name="Range", value=str(order.clip), inline=True)
    embed.add_field(name="Model", value=order.model, inline=True)
    avatar = None
    if prepared is not None and prepared.clip_offset is not None:
        embed.add_field(
            name="Clip sent",
            value=(
                f"Cut from {format_clock(prepared.clip_offset)} and uploaded; toapis reads "
                f"{format_seconds(prepared.start)}–{format_seconds(prepared.end)} s of it."
            ),
            inline=False,
        )
    if prepared is not None and prepared.preview and prepared.preview_name:
        avatar = (prepared.preview_name, prepared.preview)
        if prepared.preview_name.endswith(".jpg"):
            embed.set_image(url=f"attachment://{prepared.preview_name}")
    return Rendered(embeds=[embed], avatar=avatar)
