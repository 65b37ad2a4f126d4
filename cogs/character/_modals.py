"""Modals: the range form (context menu, reaction button, "Create from same video") and
renaming a character."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.domain.ranges import ClipRange, RangeError
from bot.i18n import N_, translate
from bot.media.orders import OrderError
from bot.providers.base import DEFAULT_MODEL
from cogs.character._flow import CreateFlow, SourceSpec
from cogs.character._registry import CHARACTER_COG
from cogs.shared.failures import report_failure
from cogs.shared.i18n import tr, tr_error

MAX_NAME = 80
BOTH_OR_NEITHER = N_("Give both start and end, or leave both empty: then I suggest a moment.")


async def _refuse_deferred(interaction: discord.Interaction, text: str) -> None:
    """After a public defer: remove the "thinking" reply, say why privately."""
    await interaction.delete_original_response()
    await interaction.followup.send(text, ephemeral=True)


def _input(
    locale: str | None,
    label: str,
    placeholder: str | None = None,
    *,
    default: str | None = None,
    required: bool = True,
) -> discord.ui.TextInput[CreateModal]:
    """A short field of the range form, its label and placeholder (msgids) in `locale`'s
    language."""
    return discord.ui.TextInput(
        label=translate(locale, label),
        placeholder=translate(locale, placeholder) if placeholder is not None else None,
        default=default,
        required=required,
        max_length=20,
    )


class CreateModal(discord.ui.Modal, title="Create a Sora character"):
    """Asks for the 1-3 s range and the model, then runs the create flow."""

    # Built per form in the asker's language (labels are set at construction: the
    # `label` property is deprecated in favour of discord.ui.Label).
    start: discord.ui.TextInput[CreateModal]
    end: discord.ui.TextInput[CreateModal]
    model: discord.ui.TextInput[CreateModal]

    def __init__(
        self,
        flow: CreateFlow,
        source: SourceSpec,
        *,
        model: str = DEFAULT_MODEL,
        locale: str | None = None,
    ) -> None:
        super().__init__(timeout=900, title=translate(locale, "Create a Sora character"))
        self.flow = flow
        self.source = source
        self.start = _input(
            locale,
            N_("Start (seconds or m:ss)"),
            N_("e.g. 1.5 or 0:12; leave start and end empty for a suggestion"),
            required=False,
        )
        self.end = _input(
            locale,
            N_("End (1 to 3 s after start)"),
            N_("e.g. 3 or 0:14; leave both empty: the bot suggests a moment"),
            required=False,
        )
        # The server's default model, already filled in.
        self.model = _input(locale, N_("Model: sora-2, sora-2-pro or sora-2-vip"), default=model)
        for field in (self.start, self.end, self.model):
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Check the range, then the same flow as `/character create`.

        When the video is in a message that still has to be read, the answer is deferred
        first (Discord wants one within 3 s); a refusal then replaces the "thinking" reply
        with a private message.
        """
        model = self.model.value.strip().lower() or None
        start, end = self.start.value.strip(), self.end.value.strip()
        if not start and not end:  # no range: the bot suggests one
            cog = CHARACTER_COG.get(interaction.client)
            await cog.suggest.start(interaction, self.source, model)
            return
        if not start or not end:
            await interaction.response.send_message(
                tr(interaction, BOTH_OR_NEITHER), ephemeral=True
            )
            return
        if self.source.message_ref is None:
            try:
                order = self.source.order(self.flow.core, self.start.value, self.end.value, model)
            except OrderError as exc:
                await interaction.response.send_message(tr_error(interaction, exc), ephemeral=True)
                return
            await self.flow.run(interaction, order, self.source.meta)
            return
        try:
            ClipRange.parse(self.start.value, self.end.value)  # no I/O: answer bad ranges now
        except RangeError as exc:
            await interaction.response.send_message(tr_error(interaction, exc), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        source = await self.flow.settle_source(self.source)
        if source is None:
            await _refuse_deferred(
                interaction, tr(interaction, "That message has no video any more.")
            )
            return
        try:
            order = source.order(self.flow.core, self.start.value, self.end.value, model)
        except OrderError as exc:
            await _refuse_deferred(interaction, tr_error(interaction, exc))
            return
        await self.flow.run(interaction, order, source.meta)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        """Never leave a "thinking…" reply behind; say something useful."""
        await report_failure(interaction, error)


def clean_name(text: str, locale: str | None = None) -> str:
    """A display name as stored: one line, trimmed; raises ValueError with a message in
    `locale`'s language."""
    name = " ".join(text.split())
    if not name:
        raise ValueError(translate(locale, "The name can't be empty."))
    if len(name) > MAX_NAME:
        raise ValueError(
            translate(locale, "The name can be at most {count} characters.", count=MAX_NAME)
        )
    return name


class RenameModal(discord.ui.Modal, title="Rename character"):
    """Asks for the new display name."""

    name: discord.ui.TextInput[RenameModal]  # built per form in the asker's language

    def __init__(
        self,
        current: str,
        apply: Callable[[discord.Interaction, str], Awaitable[None]],
        *,
        locale: str | None = None,
    ) -> None:
        super().__init__(timeout=600, title=translate(locale, "Rename character"))
        self.name = discord.ui.TextInput(
            label=translate(locale, "New name"),
            default=current[:MAX_NAME],
            max_length=MAX_NAME,
            min_length=1,
        )
        self.add_item(self.name)
        self.apply = apply

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Validate and hand over."""
        try:
            name = clean_name(self.name.value, interaction.locale.value)
        except ValueError as exc:
            await interaction.response.send_message(str(exc), ephemeral=True)
            return
        await self.apply(interaction, name)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        """Say something useful instead of "This interaction failed"."""
        await report_failure(interaction, error)
