"""`/owner`: the bot owner's controls over the one toapis account.

Registered only in `OWNER_GUILD_ID` when it is set (globally otherwise, hidden from
everyone but administrators), and every command refuses anyone who is not an owner: the
application's owner or team members, plus `OWNER_IDS`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.i18n import N_, translate
from bot.jobs.submit_line import SubmitLine
from bot.policy.account import AccountStatus, account_status
from bot.policy.owner_controls import OwnerState
from bot.policy.usage import format_report, report_from
from cogs.shared.i18n import tr

if TYPE_CHECKING:
    from bot.policy.owner_controls import OwnerControls
    from bot.runtime.app import SoraBot

log = logging.getLogger(__name__)

NOT_OWNER = N_("Only the bot's owner can use this.")
QUIET = discord.AllowedMentions.none()
USAGE_LIMIT = 1900  # a message holds 2,000 characters


def status_embed(state: OwnerState, locale: str | None = None) -> discord.Embed:
    """The owner's controls in one message (in `locale`'s language)."""

    def t(msgid: str, /, **params: object) -> str:
        return translate(locale, msgid, **params)

    embed = discord.Embed(title=t("Owner controls"), colour=discord.Colour.dark_gold())
    embed.add_field(
        name=t("New jobs"),
        value=t("paused: {reason}", reason=state.paused)
        if state.paused is not None
        else t("running"),
        inline=False,
    )
    cap = (
        t("off") if state.daily_cap is None else t("{jobs} jobs per UTC day", jobs=state.daily_cap)
    )
    embed.add_field(name=t("Global daily cap"), value=cap, inline=False)
    none = t("none")
    users = ", ".join(f"<@{u}> (`{u}`)" for u in sorted(state.blocked_users)[:20]) or none
    guilds = ", ".join(f"`{g}`" for g in sorted(state.blocked_guilds)[:20]) or none
    embed.add_field(name=t("Blocked members"), value=users, inline=False)
    embed.add_field(name=t("Blocked servers"), value=guilds, inline=False)
    return embed


def add_account(
    embed: discord.Embed, account: AccountStatus, locale: str | None = None
) -> discord.Embed:
    """The toapis account's credit and the models it said are gone (what the service
    said stays as it said it)."""

    def t(msgid: str, /, **params: object) -> str:
        return translate(locale, msgid, **params)

    credit = account.credit
    if account.has_credit is False:
        credit = t(
            "{credit}: top it up in the toapis console; creating fails until then",
            credit=credit,
        )
    embed.add_field(name=t("toapis credit"), value=credit, inline=False)
    gone = "\n".join(f"`{g.model}`: {g.said}" for g in account.gone[:10]) or t("none")
    embed.add_field(name=t("Models the service said are gone"), value=gone[:1024], inline=False)
    return embed


def _snowflake(text: str) -> int | None:
    text = text.strip().strip("<@!#&>")
    return int(text) if text.isdigit() and 15 <= len(text) <= 20 else None


class OwnerCommands(app_commands.Group):
    """Pause, cap and block: the owner's levers over spending."""

    def __init__(self, bot: SoraBot) -> None:
        super().__init__(
            name="owner",
            description="Bot owner only: pause, cap and block",
            default_permissions=discord.Permissions(administrator=True),
        )
        self.bot = bot

    @property
    def controls(self) -> OwnerControls:
        """The owner's stored controls."""
        assert self.bot.core is not None
        return self.bot.core.owner

    def _line(self) -> SubmitLine:
        assert self.bot.core is not None
        return self.bot.core.tracker.line

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Owners only: the application's owner or team, and OWNER_IDS."""
        user = interaction.user
        if user.id in self.bot.settings.owner_id_set or await self.bot.is_owner(user):
            return True
        await interaction.response.send_message(tr(interaction, NOT_OWNER), ephemeral=True)
        return False

    async def _show(self, interaction: discord.Interaction, text: str, state: OwnerState) -> None:
        await interaction.response.send_message(
            text,
            embed=status_embed(state, interaction.locale.value),
            ephemeral=True,
            allowed_mentions=QUIET,
        )

    @app_commands.command(
        name="status", description="Pause, cap, blocks, the toapis credit and models gone"
    )
    async def status(self, interaction: discord.Interaction) -> None:
        """Show every control, the account's credit and the models the service said are
        gone (reading the balance may take a moment: the answer is deferred)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert self.bot.core is not None
        account = await account_status(self.bot.core.provider)
        locale = interaction.locale.value
        embed = add_account(status_embed(await self.controls.get(), locale), account, locale)
        await interaction.edit_original_response(
            content=tr(interaction, "Owner controls:"), embed=embed, allowed_mentions=QUIET
        )

    @app_commands.command(name="pause", description="Stop new jobs everywhere, with a message")
    @app_commands.describe(message="What members read, e.g. 'back tomorrow'")
    async def pause(
        self, interaction: discord.Interaction, message: app_commands.Range[str, 1, 200]
    ) -> None:
        """Refuse new jobs in every server (jobs already running finish)."""
        state = await self.controls.change(paused=message.strip())
        self._line().pause(message.strip())  # queued jobs stay queued, not sent
        await self._show(interaction, tr(interaction, "New jobs are paused everywhere."), state)

    @app_commands.command(name="resume", description="Take new jobs again")
    async def resume(self, interaction: discord.Interaction) -> None:
        """Lift the pause."""
        state = await self.controls.change(paused=None)
        self._line().resume()
        await self._show(interaction, tr(interaction, "New jobs are taken again."), state)

    @app_commands.command(name="cap", description="Jobs per UTC day across every server")
    @app_commands.describe(jobs="the most jobs per UTC day for the whole bot; 0 turns the cap off")
    async def cap(
        self, interaction: discord.Interaction, jobs: app_commands.Range[int, 0, 1_000_000]
    ) -> None:
        """Set or lift the global daily cap."""
        state = await self.controls.change(daily_cap=jobs or None)
        text = (
            tr(interaction, "At most {jobs} jobs per UTC day.", jobs=jobs)
            if jobs
            else tr(interaction, "No global daily cap.")
        )
        await self._show(interaction, text, state)

    @app_commands.command(
        name="usage", description="Jobs per server and member: today, 7 and 30 days, failures"
    )
    @app_commands.describe(server_id="only this server (default: every server)")
    async def usage(self, interaction: discord.Interaction, server_id: str | None = None) -> None:
        """The usage report (jobs toapis accepted, failed ones in brackets)."""
        guild = _snowflake(server_id) if server_id else None
        if server_id and guild is None:
            await interaction.response.send_message(
                tr(interaction, "A server id is a number of 15-20 digits."), ephemeral=True
            )
            return
        assert self.bot.core is not None
        report = await report_from(self.bot.core.database, guild)
        text = format_report(report)
        if len(text) > USAGE_LIMIT:
            text = text[: USAGE_LIMIT - 40] + "\n… (cut: python -m bot admin usage has it all)"
        await interaction.response.send_message(f"```\n{text}\n```", ephemeral=True)

    @app_commands.command(name="block", description="Stop a member or a server from creating")
    @app_commands.describe(
        member="a member to block everywhere", server_id="the id of a server to block"
    )
    async def block(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        server_id: str | None = None,
    ) -> None:
        """Block a member (in every server) or a whole server."""
        await self._block(interaction, member, server_id, blocking=True)

    @app_commands.command(name="unblock", description="Lift a block")
    @app_commands.describe(member="a blocked member", server_id="the id of a blocked server")
    async def unblock(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        server_id: str | None = None,
    ) -> None:
        """Lift a member's or a server's block."""
        await self._block(interaction, member, server_id, blocking=False)

    async def _block(
        self,
        interaction: discord.Interaction,
        member: discord.User | None,
        server_id: str | None,
        *,
        blocking: bool,
    ) -> None:
        guild = _snowflake(server_id) if server_id else None
        if (member is None) == (server_id is None) or (server_id and guild is None):
            await interaction.response.send_message(
                tr(interaction, "Give either a member or a server id (a number of 15-20 digits)."),
                ephemeral=True,
            )
            return
        user = member.id if member is not None else None
        if blocking:
            state = await self.controls.block(user=user, guild=guild)
        else:
            state = await self.controls.unblock(user=user, guild=guild)
        who = f"<@{user}>" if user else tr(interaction, "server `{id}`", id=guild)
        text = (
            tr(interaction, "Blocked {who}.", who=who)
            if blocking
            else tr(interaction, "Unblocked {who}.", who=who)
        )
        await self._show(interaction, text, state)


async def owners(bot: SoraBot) -> set[int]:
    """The application's owner or team members, and OWNER_IDS."""
    found = set(bot.settings.owner_id_set)
    try:
        app = await bot.application_info()
    except discord.HTTPException as exc:
        log.warning("could not read the application's owner: %s", exc)
        return found
    if app.team is not None:
        found |= {member.id for member in app.team.members}
    elif app.owner is not None:
        found.add(app.owner.id)
    return found


async def tell_owners(bot: SoraBot, text: str) -> None:
    """DM every owner (best effort: DMs may be closed)."""
    for user_id in sorted(await owners(bot)):
        try:
            user = bot.get_user(user_id) or await bot.fetch_user(user_id)
            await user.send(text)
        except discord.HTTPException as exc:
            log.warning("could not DM owner %d: %s", user_id, exc)


def hold_message(reason: str, queued: int) -> str:
    """The owner's DM when toapis refuses the account and the line is held."""
    why = {
        "PaymentRequiredError": "the toapis account needs a top-up (402)",
        "AuthenticationError": "toapis refused the API key (401): check TOAPIS_API_KEY",
    }.get(reason, f"toapis refused the account ({reason})")
    retry = (
        "send them as soon as the balance shows credit (or try again in a few minutes)"
        if reason == "PaymentRequiredError"
        else "try again every few minutes"
    )
    return (
        f"Heads-up: {why}. I am holding {queued} queued job(s) and {retry}; nothing is "
        "lost, and members waiting see why."
    )


async def setup(bot: SoraBot) -> None:
    """Register the owner commands (only in OWNER_GUILD_ID when it is set); DM the owners
    when the account's refusal holds the line; apply a stored pause."""
    guild_id = bot.settings.owner_guild_id
    guild = discord.Object(guild_id) if guild_id else None
    bot.tree.add_command(OwnerCommands(bot), guild=guild)
    assert bot.core is not None
    line = bot.core.tracker.line
    pending: set[asyncio.Task[None]] = set()

    def on_hold(reason: str, queued: int) -> None:
        task = asyncio.ensure_future(tell_owners(bot, hold_message(reason, queued)))
        pending.add(task)
        task.add_done_callback(pending.discard)

    line.on_hold = on_hold
    stored = await bot.core.owner.get()
    if stored.paused is not None:
        line.pause(stored.paused)
