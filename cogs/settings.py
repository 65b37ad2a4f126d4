"""`/settings`: per-server settings, for Manage Server members."""

from __future__ import annotations

import typing
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import N_, translate
from bot.i18n.text import Text, TextError
from bot.policy.guild_settings import GuildSettings
from bot.providers.base import MODELS
from bot.providers.engines import VIDEO_MODELS, Engine
from cogs.shared.i18n import tr, tr_error

if TYPE_CHECKING:
    from bot.policy.guild_settings import SettingsService
    from bot.runtime.app import SoraBot

VIDEO_CHOICES = (*VIDEO_MODELS, "sora-2-vip")
NEEDS_MANAGE = N_("You need the Manage Server permission to change settings.")
QUIET = discord.AllowedMentions.none()

NEEDS_INTENT = N_(
    "Auto-reaction needs the **Message Content** intent, which this bot does not have right "
    "now. The bot owner can enable it in the Discord developer portal (Bot → Privileged "
    "Gateway Intents) and restart the bot; see the README."
)


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
@app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
class SettingsCog(commands.GroupCog, group_name="settings", group_description="Server settings"):
    """Settings that change how the bot behaves in this server."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        super().__init__()

    @property
    def service(self) -> SettingsService:
        """The per-guild settings service."""
        assert self.bot.core is not None
        return self.bot.core.guild_settings

    @app_commands.command(
        name="auto-react",
        description="React to new videos so members can turn them into characters in one click",
    )
    @app_commands.describe(enabled="On: react to new messages with a video. Off: don't.")
    async def auto_react(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Switch auto-reaction for this server."""
        assert interaction.guild_id is not None
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(tr(interaction, NEEDS_MANAGE), ephemeral=True)
            return
        if enabled and not self.bot.intents.message_content:
            await interaction.response.send_message(tr(interaction, NEEDS_INTENT), ephemeral=True)
            return
        await self.service.set(interaction.guild_id, auto_react=enabled)
        text = (
            tr(
                interaction,
                "Auto-reaction is **on**: I'll react with 🎭 to new videos; clicking it offers "
                "to create a character.",
            )
            if enabled
            else tr(interaction, "Auto-reaction is **off**.")
        )
        await interaction.response.send_message(text, ephemeral=True)

    async def _apply(self, interaction: discord.Interaction, **fields: object) -> None:
        """Store the change and answer with every current value."""
        assert interaction.guild_id is not None
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(tr(interaction, NEEDS_MANAGE), ephemeral=True)
            return
        try:
            current = await self.service.set(interaction.guild_id, **fields)
        except (TypeError, ValueError) as exc:
            text = tr(interaction, "Not changed: {reason}.", reason=exc)
            await interaction.response.send_message(text, ephemeral=True)
            return
        await interaction.response.send_message(
            tr(interaction, "Saved."),
            embed=settings_embed(current, interaction.locale.value),
            ephemeral=True,
            allowed_mentions=QUIET,
        )

    @app_commands.command(name="show", description="Show this server's settings and limits")
    async def show(self, interaction: discord.Interaction) -> None:
        """Every setting in one message."""
        assert interaction.guild_id is not None
        current = await self.service.get(interaction.guild_id)
        await interaction.response.send_message(
            embed=settings_embed(current, interaction.locale.value),
            ephemeral=True,
            allowed_mentions=QUIET,
        )

    @app_commands.command(name="channels", description="Choose the channels where I take jobs")
    @app_commands.describe(
        action="Add or remove a channel, or work everywhere again",
        channel="The channel to add or remove (not needed for 'everywhere')",
    )
    async def channels(
        self,
        interaction: discord.Interaction,
        action: typing.Literal["add", "remove", "everywhere"],
        channel: discord.TextChannel | discord.ForumChannel | None = None,
    ) -> None:
        """Restrict jobs to some channels (all by default)."""
        assert interaction.guild_id is not None
        current = await self.service.get(interaction.guild_id)
        chosen = list(current.channels)
        if action == "everywhere":
            chosen = []
        elif channel is None:
            await interaction.response.send_message(
                tr(interaction, "Pick the channel to add or remove."), ephemeral=True
            )
            return
        elif action == "add" and channel.id not in chosen:
            chosen.append(channel.id)
        elif action == "remove" and channel.id in chosen:
            chosen.remove(channel.id)
        await self._apply(interaction, channels=chosen)

    @app_commands.command(name="creator-role", description="Only members with a role may create")
    @app_commands.describe(role="The role allowed to create; leave empty for everyone")
    async def creator_role(
        self, interaction: discord.Interaction, role: discord.Role | None = None
    ) -> None:
        """Who may create characters (everyone by default)."""
        await self._apply(interaction, creator_role=role.id if role is not None else None)

    @app_commands.command(name="default-model", description="The model used when none is given")
    @app_commands.describe(model="The Sora model: sora-2 (default), sora-2-pro or sora-2-vip")
    @app_commands.choices(model=[app_commands.Choice(name=m, value=m) for m in MODELS])
    async def default_model(
        self, interaction: discord.Interaction, model: app_commands.Choice[str]
    ) -> None:
        """The model for jobs that do not name one."""
        await self._apply(interaction, default_model=model.value)

    @app_commands.command(name="limits", description="How many jobs members and the server may run")
    @app_commands.describe(
        at_once="Jobs one member may have preparing, waiting or running (default 2)",
        per_day="Jobs one member may start per UTC day (default 10)",
        server_per_day="Jobs the whole server may start per UTC day (default 100)",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        at_once: app_commands.Range[int, 1, 20] | None = None,
        per_day: app_commands.Range[int, 1, 1000] | None = None,
        server_per_day: app_commands.Range[int, 1, 100_000] | None = None,
    ) -> None:
        """Change one or more limits (the others stay)."""
        fields = {
            name: value
            for name, value in (
                ("jobs_at_once", at_once),
                ("jobs_per_day", per_day),
                ("server_jobs_per_day", server_per_day),
            )
            if value is not None
        }
        await self._apply(interaction, **fields)

    @app_commands.command(
        name="engines", description="The engines new characters are bound to (default: all)"
    )
    @app_commands.describe(
        engines="Comma separated among sora-2, seedance-2, viduq3, or 'all' (default)"
    )
    async def engines(
        self,
        interaction: discord.Interaction,
        engines: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Choose the engines (or just show them, and which are live on the account)."""
        assert interaction.guild_id is not None
        if engines is None:
            current = await self.service.get(interaction.guild_id)
            await interaction.response.send_message(
                embed=self.engines_embed(current, interaction.locale.value),
                ephemeral=True,
                allowed_mentions=QUIET,
            )
            return
        try:
            chosen = parse_models(engines, tuple(engine.value for engine in Engine), engines=True)
        except TextError as exc:
            text = tr(interaction, "Not changed: {reason}.", reason=tr_error(interaction, exc))
            await interaction.response.send_message(text, ephemeral=True)
            return
        if not interaction.permissions.manage_guild:
            await interaction.response.send_message(tr(interaction, NEEDS_MANAGE), ephemeral=True)
            return
        current = await self.service.set(interaction.guild_id, engines=chosen)
        await interaction.response.send_message(
            tr(interaction, "Saved: new characters are bound to these engines."),
            embed=self.engines_embed(current, interaction.locale.value),
            ephemeral=True,
            allowed_mentions=QUIET,
        )

    def engines_embed(self, current: GuildSettings, locale: str | None) -> discord.Embed:
        """Each engine: chosen here or not, used by this bot, live on the account."""
        assert self.bot.core is not None
        core = self.bot.core
        title = translate(locale, "Character engines")
        embed = discord.Embed(title=title, colour=discord.Colour.blurple())
        for engine in Engine:
            chosen = not current.engines or engine.value in current.engines
            if engine.value not in core.settings.engine_list:
                state = translate(locale, "not used by this bot (CHARACTER_ENGINES)")
            elif core.provider.models.unavailable(engine.value) is not None:
                state = translate(locale, "not offered by the video service right now")
            else:
                state = translate(locale, "live on the account")
            words = (
                translate(locale, "new characters are bound to it")
                if chosen
                else translate(locale, "not chosen here")
            )
            embed.add_field(name=engine.label, value=f"{state}; {words}", inline=False)
        embed.set_footer(
            text=translate(
                locale, "Characters keep their likeness: another engine can be added later."
            )
        )
        return embed

    @app_commands.command(name="video", description="Who may make videos, and how many")
    @app_commands.describe(
        enabled="On (default): members may use /video create. Off: nobody may",
        models="Models allowed for videos, comma separated (e.g. sora-2, seedance-2, viduq3), "
        "or 'all' (default)",
        per_day="Videos one member may start per UTC day (default 3)",
    )
    async def video(
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        models: app_commands.Range[str, 1, 100] | None = None,
        per_day: app_commands.Range[int, 1, 100] | None = None,
    ) -> None:
        """Change one or more video settings (the others stay)."""
        fields: dict[str, object] = {}
        if enabled is not None:
            fields["video_enabled"] = enabled
        if models is not None:
            try:
                fields["video_models"] = parse_models(models)
            except TextError as exc:
                reason = tr_error(interaction, exc)
                text = tr(interaction, "Not changed: {reason}.", reason=reason)
                await interaction.response.send_message(text, ephemeral=True)
                return
        if per_day is not None:
            fields["videos_per_day"] = per_day
        await self._apply(interaction, **fields)


def parse_models(
    text: str, known_models: tuple[str, ...] = VIDEO_CHOICES, *, engines: bool = False
) -> list[str]:
    """A comma list of models (`engines`: of engines), checked against `known_models`;
    'all' (or 'any') is an empty list. TextError says what is wrong."""
    if text.strip().lower() in {"all", "any", "*"}:
        return []
    chosen = list(dict.fromkeys(m.strip().lower() for m in text.split(",") if m.strip()))
    unknown = [m for m in chosen if m not in known_models]
    if unknown or not chosen:
        known = ", ".join(known_models)
        named: str | Text = ", ".join(unknown) or Text("nothing")
        if engines:
            raise TextError(
                Text(
                    "{named} is not an engine (choose from {known}, or 'all')",
                    named=named,
                    known=known,
                )
            )
        raise TextError(
            Text("{named} is not a model (choose from {known}, or 'all')", named=named, known=known)
        )
    return chosen


def settings_embed(current: GuildSettings, locale: str | None = None) -> discord.Embed:
    """Every setting of a server, as members of staff read them (in `locale`'s language)."""

    def t(msgid: str) -> str:
        return translate(locale, msgid)

    embed = discord.Embed(title=t("Server settings"), colour=discord.Colour.blurple())
    where = ", ".join(f"<#{c}>" for c in current.channels) or t("every channel")
    who = f"<@&{current.creator_role}>" if current.creator_role else t("everyone")
    on, off, every = t("on"), t("off"), t("all")
    embed.add_field(name=t("Auto-reaction"), value=on if current.auto_react else off)
    embed.add_field(name=t("Default model"), value=current.default_model)
    embed.add_field(name=t("Channels"), value=where, inline=False)
    embed.add_field(name=t("Who may create"), value=who, inline=False)
    embed.add_field(name=t("Jobs at once, per member"), value=str(current.jobs_at_once))
    embed.add_field(name=t("Jobs per day, per member"), value=str(current.jobs_per_day))
    embed.add_field(name=t("Jobs per day, server"), value=str(current.server_jobs_per_day))
    embed.add_field(name=t("Videos"), value=on if current.video_enabled else off)
    embed.add_field(name=t("Video models"), value=", ".join(current.video_models) or every)
    embed.add_field(name=t("Videos per day, per member"), value=str(current.videos_per_day))
    embed.add_field(name=t("Engines"), value=", ".join(current.engines) or every)
    embed.set_footer(
        text=t(
            "Days are UTC. Change with /settings channels, creator-role, limits, video, engines…"
        )
    )
    return embed


async def setup(bot: SoraBot) -> None:
    """Load the extension."""
    await bot.add_cog(SettingsCog(bot))
