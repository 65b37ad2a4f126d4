"""`/help`: what the bot does, its commands and the range rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import N_, translate

if TYPE_CHECKING:
    from bot.runtime.app import SoraBot

# The help text, one field each (`{retention_days}` is filled in).
SECTIONS: tuple[tuple[str, str], ...] = (
    (
        N_("Create"),
        N_(
            "`/character create` with one source: `video` (attach a file), `url` "
            "(a video link or a page such as YouTube) or `from_task` (the task id of a "
            "character or video made in this server); "
            "optional `start`/`end` and `model`. Without `start` and `end` the bot suggests "
            "the best moment (one face, speaking) with a preview; nothing is spent until "
            "you press **Use this**.\nOr right-click a message with a video → **Apps → Create Sora "
            "character**."
        ),
    ),
    (
        N_("Use in a video"),
        N_(
            "`/video create prompt: character:` (up to three characters; optional `model`, "
            "`duration`, `aspect_ratio`) or **Use in a video** on a card. Name the characters "
            "in the prompt: each is written the chosen engine's way (Sora `@username`, "
            'Seedance "the character from images 1-3", Vidu `@name`). Seconds: sora-2 10 or '
            "15, sora-2-pro 15 or 25, Seedance 4-15, Vidu 3-16. The video is posted here (a "
            "link valid 24 hours when it is too large)."
        ),
    ),
    (
        N_("Browse and manage"),
        N_(
            "`/character jobs` (what is in flight, with Cancel), "
            "`/character list` (filter `mine` or `creator`), `/character show`, "
            "`/character rename`, `/character delete`. Pick the name from the suggestions; "
            "if a typed name fits several characters you get to choose. Rename and delete "
            "only change this bot's library; the `@username` keeps working in Sora. A card "
            "lists the engines its character works with (Sora 2, Seedance 2, Vidu Q3) and why "
            "one does not; the bot keeps each character's own likeness (its clip and three "
            "stills), deleted with it."
        ),
    ),
    (
        N_("The range"),
        N_(
            "Optional: give both `start` and `end` or neither. In seconds (`1.5`) or "
            "minutes:seconds (`0:12`); the moment must be 1 to 3 s long, inside the video, "
            "with one character clearly visible. The video needs sound. With a range, the "
            "job goes at once; a private note follows if another moment looks better."
        ),
    ),
    (
        N_("Server settings"),
        N_(
            "Manage Server only: `/settings show` (every value), `/settings auto-react` "
            "(react 🎭 to new video attachments and video links, a file such as `.mp4` or a "
            "site like YouTube or TikTok, as a shortcut), `/settings channels` (where the "
            "bot takes jobs), `/settings creator-role` (who may create), "
            "`/settings default-model`, `/settings limits` (jobs at once and per UTC day, "
            "per member and for the server; defaults 2, 10 and 100), `/settings video` "
            "(videos on or off, allowed models, videos per member per UTC day; default 3), "
            "`/settings engines` (which engines new characters are bound to: Sora 2, "
            "Seedance 2, Vidu Q3; default all, and which are live)."
        ),
    ),
    (
        N_("Your data"),
        N_(
            "`/character forget-me` removes your user id from what this bot keeps in this "
            "server; you choose whether your characters stay (without your name) or go. When "
            "the bot is removed from a server, its data is deleted after {retention_days} days."
        ),
    ),
    (
        N_("Bot owner"),
        N_(
            "`/owner status`, `/owner usage`, `/owner pause` / `resume`, `/owner cap` (jobs "
            "per UTC day for the whole bot), `/owner block` / `unblock` (a member or a server)."
        ),
    ),
)


def help_embed(
    locale: str | None = None, retention_days: float = 30, help_url: str | None = None
) -> discord.Embed:
    """The help text in `locale`'s language (`retention_days`: how long a server's data
    outlives the bot there; `help_url`: the operator's `HELP_URL`, linked under "More")."""
    embed = discord.Embed(
        title="Sora Character Bot",
        description=translate(
            locale,
            "Turns 1 to 3 seconds of a video into a reusable **character**: the bot keeps its "
            "likeness and binds it to Sora 2, Seedance 2 and Vidu Q3, so it can star in new "
            "videos on whichever engine works.",
        ),
        colour=discord.Colour.blurple(),
    )
    days = f"{retention_days:g}"
    for name, value in SECTIONS:
        embed.add_field(
            name=translate(locale, name),
            value=translate(locale, value, retention_days=days),
            inline=False,
        )
    if help_url:
        more = translate(locale, "[Read more]({url})", url=help_url)
        embed.add_field(name=translate(locale, "More"), value=more, inline=False)
    return embed


class HelpCog(commands.Cog):
    """The /help command."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What this bot does and how to use it")
    async def help(self, interaction: discord.Interaction) -> None:
        """Answer privately with the help text."""
        await interaction.response.send_message(
            embed=help_embed(
                interaction.locale.value,
                self.bot.settings.guild_retention_days,
                self.bot.settings.help_url,
            ),
            ephemeral=True,
        )


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(HelpCog(bot))
