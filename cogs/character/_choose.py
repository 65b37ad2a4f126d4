""" "Which one?": a private select menu when a typed name matches several characters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import discord

from bot.domain.records import Character
from bot.i18n import N_, translate
from cogs.shared.asker_view import AskerView
from cogs.shared.i18n import tr

MAX_CHOICES = 25  # a select menu's limit
NOT_OFFERED = N_("That is not one of the characters offered; run the command again.")

# What to do with the chosen character's id (show, rename, delete).
Action = Callable[[discord.Interaction, str], Awaitable[None]]


class ChooseCharacter(AskerView):
    """ "Which one?": a private select menu of the characters a typed name matches."""

    def __init__(
        self, asked: discord.Interaction, characters: Sequence[Character], action: Action
    ) -> None:
        super().__init__(asked.user.id, timeout=600)
        self.owner_id = asked.user.id
        self.locale = locale = asked.locale.value
        self.action = action
        self.characters = list(characters)[:MAX_CHOICES]
        self.offered = {c.character_id for c in self.characters}
        guild = asked.guild
        self._creators = {
            c.creator_id: _member_name(guild, c.creator_id, locale) for c in self.characters
        }
        self.select: discord.ui.Select[ChooseCharacter] = discord.ui.Select(
            placeholder=translate(locale, "Pick the character"),
            options=[
                discord.SelectOption(
                    label=_clip(f"{c.display_name} (@{c.username})"),
                    value=c.character_id,
                    description=_clip(
                        translate(
                            locale,
                            "by {creator} · created {date}",
                            creator=self._creators[c.creator_id],
                            date=_date(c.created_at),
                        )
                    ),
                )
                for c in self.characters
            ],
        )
        self.select.callback = self._chosen  # type: ignore[method-assign]
        self.add_item(self.select)

    def describe(self, text: str) -> str:
        """The message above the menu: every match with its creator and date."""
        unknown = translate(self.locale, "unknown")
        lines = [
            f"- **{discord.utils.escape_markdown(c.display_name)}** `@{c.username}` "
            + translate(
                self.locale,
                "by {creator}, {date}",
                creator=_mention(c.creator_id) or unknown,
                date=_date(c.created_at),
            )
            for c in self.characters
        ]
        asked = discord.utils.escape_markdown(_clip(text.strip(), 60))
        head = translate(self.locale, "Several characters match **{name}**; pick one:", name=asked)
        return head + "\n" + "\n".join(lines)

    async def _chosen(self, interaction: discord.Interaction) -> None:
        value = self.select.values[0] if self.select.values else ""
        if value not in self.offered:  # a forged value: never looked up
            await interaction.response.send_message(tr(interaction, NOT_OFFERED), ephemeral=True)
            return
        self.stop()
        await self.action(interaction, value)


def _member_name(guild: discord.Guild | None, user_id: int | None, locale: str | None) -> str:
    if user_id is None:
        return translate(locale, "unknown")
    member = guild.get_member(user_id) if guild is not None else None
    if member is not None:
        return member.display_name
    return translate(locale, "user {id}", id=user_id)


def _mention(user_id: int | None) -> str | None:
    return f"<@{user_id}>" if user_id else None


def _date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def _clip(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
