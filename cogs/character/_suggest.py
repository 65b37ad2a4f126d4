"""The moment suggestion: `/character create` (or the range form) without a range.

The bot analyses the video (`bot.media.suggestions`), shows the best 1-3 s window with a
contact sheet and its reasons, privately, with "Use this", "Next suggestion" and "Pick my
own range". Nothing is sent to toapis until the member picks. The buttons carry only the
suggestion's id; the windows live server-side for an hour. With a range given, the same
analysis runs after the job was sent and only adds a note when it disagrees.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.ranges import ClipRange, format_clock
from bot.domain.records import SourceKind
from bot.i18n import N_, translate
from bot.media.errors import MediaError
from bot.media.orders import AttachmentInfo, CreateOrder, OrderError, resolve
from bot.media.scoring import Window
from bot.media.suggestions import Suggester, Suggestion
from cogs.character._flow import CreateFlow, SourceSpec
from cogs.character._registry import CHARACTER_COG
from cogs.shared.components import Guarded, Named
from cogs.shared.i18n import tr, tr_error
from cogs.shared.limits import limited

if TYPE_CHECKING:
    from cogs.character._cog import CharacterCog

log = logging.getLogger(__name__)

SHEET_NAME = "moment.jpg"
EXPIRED = N_("This suggestion expired (they are kept for an hour): run the command again.")
NOT_YOURS = N_("This suggestion is for the member who asked. Run `/character create` yourself.")
WORKING = N_("Looking for the best moment (one face, speaking) in the first 10 minutes…")


def _cog(interaction: discord.Interaction) -> CharacterCog:
    return CHARACTER_COG.get(interaction.client)


class SuggestFlow:
    """Analyses a source for a member and answers with the best moment."""

    def __init__(self, flow: CreateFlow, suggester: Suggester) -> None:
        self.flow = flow
        self.suggester = suggester

    async def start(
        self, interaction: discord.Interaction, source: SourceSpec, model: str | None
    ) -> None:
        """Limits first, then a private "looking…" reply, the analysis and the proposal."""
        assert interaction.guild_id is not None
        refusal = await limited(self.flow.core, interaction)
        if refusal is None and source.from_task and not (source.video or source.url):
            refusal = tr(
                interaction,
                "With `from_task`, give `start` and `end`: there is no video to look at.",
            )
        if refusal is not None:
            await interaction.response.send_message(
                refusal, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        settled = await self.flow.settle_source(source)
        if settled is None:
            await interaction.edit_original_response(
                content=tr(interaction, "That message has no video any more.")
            )
            return
        try:
            order = settled.order(self.flow.core, "0", "1", model)  # the range comes later
            order = await resolve(order, allow_private=self.flow.core.settings.allow_private_urls)
        except OrderError as exc:
            await interaction.edit_original_response(content=tr_error(interaction, exc))
            return
        await interaction.edit_original_response(content=tr(interaction, WORKING))
        locale = interaction.locale.value
        try:
            suggestion, _ = await self.suggester.suggest(
                order,
                guild_id=interaction.guild_id,
                requester_id=interaction.user.id,
                meta=settled.meta,
            )
        except MediaError as exc:
            spec = _own_range_only(order, interaction.user.id, settled.meta, self.suggester, locale)
            await interaction.edit_original_response(content=tr_error(interaction, exc), view=spec)
            return
        if not suggestion.windows:
            view = _own_range_only(order, interaction.user.id, settled.meta, self.suggester, locale)
            words = tr(
                interaction,
                "I found no face in the first {length} of this video. Pick the moment "
                "yourself: 1 to 3 s with one character visible.",
                length=format_clock(round(suggestion.seconds)),
            )
            await interaction.edit_original_response(content=words, view=view)
            return
        await interaction.edit_original_response(**proposal(suggestion, 0, locale))

    async def second_opinion(self, interaction: discord.Interaction, order: CreateOrder) -> None:
        """After a job with a range was sent: a private note if another window looks better."""
        if order.url is None or not await self._job_was_shown(interaction):
            return
        assert interaction.guild_id is not None
        try:
            suggestion, analysis = await self.suggester.suggest(
                order, guild_id=interaction.guild_id, requester_id=interaction.user.id
            )
        except MediaError as exc:
            log.debug("no second opinion on job of %d: %s", interaction.user.id, exc)
            return
        asked = analysis.judge(order.clip.start, order.clip.end)
        locale = interaction.locale.value
        note = disagreement(asked, suggestion.windows, locale)
        if note is None:
            return
        view = discord.ui.View(timeout=None)
        best = suggestion.windows[0]
        label = tr(interaction, "Create from {moment}", moment=best.label)
        view.add_item(SuggestionButton(suggestion.id, "use", 0, label=label))
        await interaction.followup.send(note, view=view, ephemeral=True)

    async def _job_was_shown(self, interaction: discord.Interaction) -> bool:
        """Whether the flow got as far as showing the job (not refused, not failed)."""
        try:
            reply = await interaction.original_response()
        except discord.HTTPException:
            return False
        return self.flow.replies.get(reply.id) is interaction


def disagreement(asked: Window, windows: list[Window], locale: str | None = None) -> str | None:
    """The note when the picked range is clearly worse than the best window, else None
    (in `locale`'s language)."""
    if not windows:
        return None
    best = windows[0]
    overlaps = asked.start < best.end and best.start < asked.end
    if overlaps or (asked.faces == 1 and not asked.cut and asked.score >= 0.7 * best.score):
        return None
    if asked.faces == 0:
        why = translate(locale, "no face found")
    elif asked.faces > 1:
        why = translate(locale, "{count} faces", count=asked.faces)
    elif asked.cut:
        why = translate(locale, "a scene cut")
    else:
        why = asked.reasons_in(locale)
    return translate(
        locale,
        "{why} in {asked}; {best} looks better ({reasons}).",
        why=why,
        asked=asked.label,
        best=best.label,
        reasons=best.reasons_in(locale),
    )


def proposal(suggestion: Suggestion, index: int, locale: str | None = None) -> dict[str, Any]:
    """The message for the `index`-th window: embed, contact sheet, buttons (in `locale`'s
    language)."""
    window = suggestion.windows[index]
    choose = translate(
        locale,
        "Nothing is sent to toapis until you choose: **{use}**, **{next}**, or **{own}**.",
        use=translate(locale, LABELS["use"][0]),
        next=translate(locale, LABELS["next"][0]),
        own=translate(locale, LABELS["own"][0]),
    )
    embed = discord.Embed(
        title=translate(locale, "Suggested moment: {moment}", moment=window.label),
        description=f"{window.reasons_in(locale)}.\n{choose}",
        colour=discord.Colour.blurple(),
    )
    embed.set_image(url=f"attachment://{SHEET_NAME}")
    footer = translate(
        locale,
        "Suggestion {number} of {count} · from the first {length} · kept for an hour",
        number=index + 1,
        count=len(suggestion.windows),
        length=format_clock(round(suggestion.seconds)),
    )
    embed.set_footer(text=footer)
    view = discord.ui.View(timeout=None)
    view.add_item(SuggestionButton(suggestion.id, "use", index, locale=locale))
    if index + 1 < len(suggestion.windows):
        view.add_item(SuggestionButton(suggestion.id, "next", index + 1, locale=locale))
    view.add_item(SuggestionButton(suggestion.id, "own", index, locale=locale))
    sheet = discord.File(io.BytesIO(suggestion.sheets[index]), filename=SHEET_NAME)
    return {"content": None, "embed": embed, "attachments": [sheet], "view": view}


def _own_range_only(
    order: CreateOrder,
    requester_id: int,
    meta: dict[str, Any] | None,
    suggester: Suggester,
    locale: str | None = None,
) -> discord.ui.View:
    """A "Pick my own range" button for a source without a suggestion (kept an hour too)."""
    from bot.media.suggestions import new_id

    stored = Suggestion(
        id=new_id(),
        order=order,
        guild_id=0,
        requester_id=requester_id,
        windows=[],
        sheets=[],
        seconds=0.0,
        meta=meta,
    )
    suggester.store.put(stored)
    view = discord.ui.View(timeout=None)
    view.add_item(SuggestionButton(stored.id, "own", 0, locale=locale))
    return view


def source_of(suggestion: Suggestion) -> SourceSpec:
    """The source again, for the range form."""
    order = suggestion.order
    if order.kind is SourceKind.ATTACHMENT and order.url is not None:
        video = AttachmentInfo(url=order.url, filename=order.reference, size=0)
        return SourceSpec(video=video, meta=suggestion.meta)
    return SourceSpec(url=order.url, meta=suggestion.meta)


LABELS = {
    "use": (N_("Use this"), "✅"),
    "next": (N_("Next suggestion"), "⏭️"),
    "own": (N_("Pick my own range"), "✏️"),
}


class SuggestionButton(
    Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"sora:sg:(?P<sid>[A-Za-z0-9_\-]{8,20}):(?P<act>use|next|own):(?P<n>\d{1,2})",
):
    """One of the proposal's buttons; the suggestion itself is looked up by id."""

    def __init__(
        self,
        suggestion_id: str,
        action: str,
        index: int,
        label: str = "",
        *,
        locale: str | None = None,
    ) -> None:
        text, emoji = LABELS[action]
        text = translate(locale, text)
        style = discord.ButtonStyle.success if action == "use" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label or text,
                emoji=emoji,
                style=style,
                custom_id=f"sora:sg:{suggestion_id}:{action}:{index}",
            )
        )
        self.suggestion_id, self.action, self.index = suggestion_id, action, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SuggestionButton:
        """Rebuild from the custom_id (also after a restart)."""
        return cls(match["sid"], match["act"], int(match["n"]))

    def named(self) -> Named:
        """Nothing of the server: a random id of a suggestion kept in memory, which `act`
        gives to the member who asked for it only."""
        return Named()

    async def act(self, interaction: discord.Interaction) -> None:
        """Use, next or own range."""
        cog = _cog(interaction)
        suggestion = cog.suggest.suggester.store.get(self.suggestion_id)
        if suggestion is None:
            await interaction.response.send_message(tr(interaction, EXPIRED), ephemeral=True)
            return
        if interaction.user.id != suggestion.requester_id:
            await interaction.response.send_message(tr(interaction, NOT_YOURS), ephemeral=True)
            return
        if self.action == "next":
            await interaction.response.edit_message(
                **proposal(suggestion, self.index, interaction.locale.value)
            )
            return
        if self.action == "own":
            from cogs.character._modals import CreateModal

            model = suggestion.order.model
            await interaction.response.send_modal(
                CreateModal(
                    cog.flow, source_of(suggestion), model=model, locale=interaction.locale.value
                )
            )
            return
        window = suggestion.windows[self.index]
        clip = ClipRange(window.start, window.end)
        order = replace(suggestion.order, clip=clip)
        await cog.flow.run(interaction, order, suggestion.meta)
