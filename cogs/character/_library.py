"""Managing stored characters: show, rename, delete, and starting again from a card.

Used by the slash commands and by the card buttons alike. Rename and delete are local to
this bot: toapis has no such endpoints, and the `@username` keeps working in Sora prompts.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.records import Character, Job
from bot.i18n import N_
from bot.media.orders import AttachmentInfo
from cogs.character._buttons import card_view
from cogs.character._choose import MAX_CHOICES, Action, ChooseCharacter
from cogs.character._delete import ConfirmDelete
from cogs.character._flow import CreateFlow, SourceSpec, attachment_info
from cogs.character._modals import CreateModal, RenameModal
from cogs.character._render import offers_likeness, render_card
from cogs.character._retry import retry_unknown
from cogs.shared.i18n import tr
from cogs.shared.limits import refuse_if_limited
from cogs.shared.owned import FOREIGN_CHANNEL, member_sees
from cogs.shared.render import Rendered, job_locale

if TYPE_CHECKING:
    from bot.runtime.container import Core

log = logging.getLogger(__name__)
NOT_FOUND = N_("No character by that name in this server. Pick one from the suggestions.")
NOT_ALLOWED = N_(
    "Only the person who created this character, or someone with Manage Server, can do that."
)
LOCAL_ONLY = N_(
    "This only changes this bot's library: toapis has no rename or delete, and "
    "`@{username}` keeps working in Sora prompts."
)
NO_MENTIONS = discord.AllowedMentions.none()


class Library:
    """The actions on stored characters."""

    def __init__(self, flow: CreateFlow) -> None:
        self.flow = flow

    @property
    def core(self) -> Core:
        """The core services."""
        return self.flow.core

    async def _find(self, interaction: discord.Interaction, character_id: str) -> Character | None:
        if interaction.guild_id is None:
            await interaction.response.send_message(
                tr(interaction, "Characters belong to a server: manage them from the server."),
                ephemeral=True,
            )
            return None
        character = await self.core.characters.get(interaction.guild_id, character_id)
        if character is None:
            await interaction.response.send_message(tr(interaction, NOT_FOUND), ephemeral=True)
        return character

    @staticmethod
    def can_manage(interaction: discord.Interaction, character: Character) -> bool:
        """The creator or a Manage Server member."""
        return interaction.user.id == character.creator_id or interaction.permissions.manage_guild

    async def _allowed(self, interaction: discord.Interaction, character: Character) -> bool:
        if self.can_manage(interaction, character):
            return True
        await interaction.response.send_message(tr(interaction, NOT_ALLOWED), ephemeral=True)
        return False

    async def card(self, character: Character, locale: str | None = None) -> Rendered:
        """A character's card with its buttons, pinging no one, in `locale` (default:
        the language of the job that made it)."""
        job = await self.core.jobs.get(character.job_id) if character.job_id else None
        full = character
        if character.avatar is None:
            full = (
                await self.core.characters.get(character.guild_id, character.character_id)
                or character
            )
        offer = offers_likeness(full, self.core.settings.engine_list)
        locale = locale or job_locale(job)
        rendered = render_card(job, full, offer_likeness=offer, locale=locale)
        rendered.content = None
        rendered.view = card_view(
            character.character_id, character.job_id, likeness=not offer, locale=locale
        )
        return rendered

    async def candidates(self, guild_id: int, text: str) -> list[Character]:
        """The characters `text` may mean, in this server only.

        An autocomplete value is a character id (one character). Typed text: the
        characters named exactly that (display name or @username), else those whose name
        contains it. Several results mean the user has to choose.
        """
        text = text.strip()
        exact = await self.core.characters.get(guild_id, text, with_avatar=False)
        if exact is not None:
            return [exact]
        named = await self.core.characters.named(guild_id, text, limit=MAX_CHOICES)
        if named:
            return named
        return await self.core.characters.search(guild_id, text, limit=MAX_CHOICES)

    async def by_name(self, interaction: discord.Interaction, text: str, action: Action) -> None:
        """Run `action` on the character `text` names; if several match, let the user pick."""
        assert interaction.guild_id is not None
        found = await self.candidates(interaction.guild_id, text)
        if not found:
            await interaction.response.send_message(tr(interaction, NOT_FOUND), ephemeral=True)
            return
        if len(found) == 1:
            await action(interaction, found[0].character_id)
            return
        view = ChooseCharacter(interaction, found, action)
        await interaction.response.send_message(
            view.describe(text), view=view, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def show(self, interaction: discord.Interaction, character_id: str) -> None:
        """Post the character's card in the channel."""
        character = await self._find(interaction, character_id)
        if character is None:
            return
        card = await self.card(character, interaction.locale.value)
        await interaction.response.send_message(
            **card.body(), files=card.files(), allowed_mentions=NO_MENTIONS
        )

    async def open_rename(self, interaction: discord.Interaction, character_id: str) -> None:
        """Open the rename modal."""
        character = await self._find(interaction, character_id)
        if character is None or not await self._allowed(interaction, character):
            return

        async def apply(submitted: discord.Interaction, name: str) -> None:
            await self.rename(submitted, character_id, name)

        await interaction.response.send_modal(
            RenameModal(character.display_name, apply, locale=interaction.locale.value)
        )

    async def rename(self, interaction: discord.Interaction, character_id: str, name: str) -> None:
        """Rename, tell the user what it means, refresh the card if it was clicked."""
        character = await self._find(interaction, character_id)
        if character is None or not await self._allowed(interaction, character):
            return
        renamed = await self.core.characters.rename(character.guild_id, character_id, name)
        assert renamed is not None
        old = discord.utils.escape_markdown(character.display_name)
        note = tr(
            interaction,
            "Renamed **{old}** (`@{username}`) to **{new}**.",
            old=old,
            username=renamed.username,
            new=discord.utils.escape_markdown(name),
        )
        note += " " + tr(interaction, LOCAL_ONLY, username=renamed.username)
        if (
            interaction.message is not None
            and interaction.type is discord.InteractionType.modal_submit
        ):
            card = await self.card(renamed)
            v2 = interaction.message.flags.components_v2  # a card sent before V2 stays so
            extra: dict[str, Any] = {"attachments": card.files()} if v2 and card.avatar else {}
            await interaction.response.edit_message(
                **card.body(edit=True, v2=v2), allowed_mentions=NO_MENTIONS, **extra
            )
            await interaction.followup.send(note, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(
                note, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    async def confirm_delete(self, interaction: discord.Interaction, character_id: str) -> None:
        """Ask "are you sure?" with buttons only the asker can press."""
        character = await self._find(interaction, character_id)
        if character is None or not await self._allowed(interaction, character):
            return
        card = interaction.message
        if card is not None and card.flags.ephemeral:
            card = None  # a private "which one?" list, not the character's card
        view = ConfirmDelete(
            self.core, self.card, interaction.user.id, character, card, interaction.locale.value
        )
        name = discord.utils.escape_markdown(character.display_name)
        await interaction.response.send_message(
            tr(
                interaction,
                "Delete **{name}** (`@{username}`) from this server's library?",
                name=name,
                username=character.username,
            )
            + "\n"
            + tr(interaction, LOCAL_ONLY, username=character.username),
            view=view,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def create_again(self, interaction: discord.Interaction, job_id: int) -> None:
        """Open the range form for the source of an earlier job."""
        job = await self.core.jobs.get(job_id)
        if job is None or job.guild_id != interaction.guild_id:
            await interaction.response.send_message(
                tr(interaction, "That job is not known here."), ephemeral=True
            )
            return
        await self._open_form(interaction, source_spec(job))

    async def add_likeness(self, interaction: discord.Interaction, character_id: str) -> None:
        """ "Add the likeness": the range form on the character's source; the chosen moment
        becomes its kept likeness, bound to the engines besides Sora (no new Sora task)."""
        guild_id = interaction.guild_id or 0
        character = await self.core.characters.get(guild_id, character_id, with_avatar=False)
        job = await self.core.jobs.get(character.job_id) if character and character.job_id else None
        if character is None or job is None or job.guild_id != guild_id:
            await interaction.response.send_message(tr(interaction, NO_SOURCE), ephemeral=True)
            return
        if character.likeness is not None:
            await interaction.response.send_message(
                tr(interaction, "This character keeps its likeness already."), ephemeral=True
            )
            return
        spec = source_spec(job)
        if spec is not None:
            spec = dataclasses.replace(
                spec, meta={**(spec.meta or {}), "likeness_for": character.id}
            )
            if spec.fallback is not None:
                fallback = spec.fallback
                spec = dataclasses.replace(
                    spec,
                    fallback=dataclasses.replace(
                        fallback, meta={**(fallback.meta or {}), "likeness_for": character.id}
                    ),
                )
        await self._open_form(interaction, spec)

    async def _open_form(self, interaction: discord.Interaction, spec: SourceSpec | None) -> None:
        """The range form for `spec`, or why the video cannot be read again."""
        if spec is None:
            await interaction.response.send_message(tr(interaction, NO_SOURCE), ephemeral=True)
            return
        if await refuse_if_limited(self.core, interaction):
            return
        model = (await self.core.guild_settings.get(interaction.guild_id or 0)).default_model
        await interaction.response.send_modal(
            CreateModal(self.flow, spec, model=model, locale=interaction.locale.value)
        )

    async def retry_unknown(self, interaction: discord.Interaction, job_id: int) -> None:
        """The Retry button of an "unknown" job."""
        await retry_unknown(self.core, self.flow, interaction, job_id)

    async def create_from_message(
        self, interaction: discord.Interaction, channel_id: int, message_id: int
    ) -> None:
        """Open the range form for the video of a message (reaction flow).

        The ids come from a custom_id, so they are untrusted: the channel must be one of
        this server's that the member can see before anything is read (the button's check
        already said so; checked again here, where the read is decided). The form opens at
        once; the message is read (through that channel, so it belongs to it) when the form
        is submitted.
        """
        if not member_sees(interaction, channel_id):
            await interaction.response.send_message(
                tr(interaction, FOREIGN_CHANNEL), ephemeral=True
            )
            return
        spec = SourceSpec(message_ref=(channel_id, message_id))
        if await refuse_if_limited(self.core, interaction):
            return
        model = (await self.core.guild_settings.get(interaction.guild_id or 0)).default_model
        await interaction.response.send_modal(
            CreateModal(self.flow, spec, model=model, locale=interaction.locale.value)
        )


NO_SOURCE = N_("The original video can't be fetched again; start with `/character create`.")


def source_spec(job: Job) -> SourceSpec | None:
    """How to read an earlier job's source again (None: it cannot be)."""
    source = dict(job.meta.get("source") or {})
    spec: SourceSpec | None = None
    if source.get("from_task"):
        spec = SourceSpec(from_task=str(source["from_task"]))
    if spec is None and source.get("kind") == "attachment" and source.get("clip_url"):
        # A slash-command attachment: its CDN link expires, the uploaded clip does not.
        spec = SourceSpec(
            url=str(source["clip_url"]),
            clip_start=float(source["clip_offset"]),
            clip_end=float(source["clip_end"]),
            meta={"name": source.get("name")},
        )
    if spec is None and source.get("kind") == "attachment" and source.get("url"):
        spec = SourceSpec(
            video=AttachmentInfo(
                str(source["url"]), str(source.get("name") or "video.mp4"), 0, "video/mp4"
            )
        )
    elif spec is None and source.get("url"):
        spec = SourceSpec(url=str(source["url"]))
    if "channel_id" in job.meta and "message_id" in job.meta:
        ref = (int(job.meta["channel_id"]), int(job.meta["message_id"]))
        spec = SourceSpec(message_ref=ref, fallback=spec)  # a fresh attachment URL
    return spec


__all__ = ["ChooseCharacter", "ConfirmDelete", "Library", "attachment_info"]
