"""The bot's words in the member's language: the command tree's translator and replies.

Command, group and option names stay English (README and /help match everywhere);
descriptions and choice names are translated. A reply follows the interaction's
`locale`; a message no one asked for, the server's `guild_locale`.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot import i18n
from bot.i18n.text import Text, TextError, words
from bot.providers.base import ProviderError

# Where discord.py asks for a name: these stay English.
NAME_LOCATIONS = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)


class CommandTranslator(app_commands.Translator):
    """Descriptions and choice names from the catalogues; names stay English."""

    async def load(self) -> None:
        """Read the catalogues once, when the tree takes the translator."""
        i18n.load()

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """The text for `locale`, or None (no localization: Discord shows the English)."""
        if context.location in NAME_LOCATIONS:
            return None
        return i18n.lookup(locale.value, string.message)


def languages(interaction: discord.Interaction) -> dict[str, str]:
    """What a job keeps of the languages around it (its messages come later, after
    restarts): the asker's `locale`, and the server's `guild_locale` when known."""
    kept = {"locale": interaction.locale.value}
    if interaction.guild_locale is not None:
        kept["guild_locale"] = interaction.guild_locale.value
    return kept


def tr(interaction: discord.Interaction, msgid: str, /, **params: object) -> str:
    """`msgid` in the language of the member who asked (`interaction.locale`)."""
    return i18n.translate(interaction.locale.value, msgid, **params)


def tr_guild(locale: discord.Locale | str | None, msgid: str, /, **params: object) -> str:
    """`msgid` in a server's language (`guild.preferred_locale` or an interaction's
    `guild_locale`): for messages no one asked for."""
    code = locale.value if isinstance(locale, discord.Locale) else locale
    return i18n.translate(code, msgid, **params)


def tr_error(interaction: discord.Interaction, error: BaseException) -> str:
    """A core error's message in the member's language (English when the core wrote it
    as plain text); a provider's error, its `user_message`."""
    if isinstance(error, ProviderError):
        return error.user_text.render(interaction.locale.value)
    return words(error, interaction.locale.value)


def tr_refusal(interaction: discord.Interaction, text: str | Text, cause: Exception | None) -> str:
    """A create step's refusal in the member's language: its cause's words when the core
    gave them as a msgid, else `text` (a `str` from the front is already the member's)."""
    if isinstance(cause, TextError | ProviderError):
        return tr_error(interaction, cause)
    return text.render(interaction.locale.value) if isinstance(text, Text) else text
