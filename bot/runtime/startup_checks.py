"""Checks of the outside services, without discord.py and without spending anything.

Each check gives `Check`s: ok / warn / fail (or skip), what was found and how to fix it.
Discord: the token (`GET /users/@me`), the Message Content intent (the application's
flags), the invite URL (the application's id and the permissions in
`bot.runtime.permissions`) and, with `DEV_GUILD_ID`, the bot's permissions there.
toapis: the account's balance (401 means the key is refused; anything but a 200 balance
means TOAPIS_BASE_URL is not toapis, or toapis is unwell) and the models the service
lists, where it lists them (`GET /v1/models`).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from pydantic import ValidationError

from bot.providers.account import Balance
from bot.providers.answers import error_message
from bot.providers.base import MODELS
from bot.runtime.config import Settings
from bot.runtime.permissions import NEEDED_PERMISSIONS, invite_url

DISCORD_API = "https://discord.com/api/v10"
BALANCE_PATH = "/v1/user/balance"  # the account's credit; reading it spends nothing
TIMEOUT = httpx.Timeout(15.0, connect=10.0)

MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)  # GATEWAY_MESSAGE_CONTENT (+ _LIMITED)
ADMINISTRATOR = 1 << 3
PORTAL = "https://discord.com/developers/applications"


class Status(StrEnum):
    """How a check went."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One line of the doctor: status, the area, what was found, how to fix it."""

    status: Status
    area: str
    what: str
    fix: str = ""

    def line(self) -> str:
        """`FAIL  toapis: what is wrong -> how to fix it`."""
        text = f"{self.status.value:<4}  {self.area}: {self.what}"
        return f"{text} -> {self.fix}" if self.fix else text

    def sentence(self) -> str:
        """What and how to fix, for a log line."""
        return f"{self.what} ({self.fix})" if self.fix else self.what


def connect_cause(exc: BaseException) -> str:
    """Why a connection failed, in a few words: DNS, refused, TLS, timeout..."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time (timeout)"
    seen: BaseException | None = exc
    chain: list[BaseException] = []
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed ({cause.strerror or cause})"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({cause.verify_message or cause.reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed ({cause.reason or cause})"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset"
    root = chain[-1]
    return str(root) or type(root).__name__


def discord_base(settings: Settings) -> str:
    """The Discord REST base URL in use (`DISCORD_API_BASE_URL` or Discord's)."""
    return (settings.discord_api_base_url or DISCORD_API).rstrip("/")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def discord_login(settings: Settings, http: httpx.AsyncClient) -> tuple[Check, Any]:
    """`GET /users/@me` with the token: ok (and the bot user), or why it failed."""
    assert settings.discord_token is not None
    url = discord_base(settings) + "/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        what = f"cannot reach Discord at {url}: {connect_cause(exc)}"
        fix = "check the network, DNS and DISCORD_API_BASE_URL"
        return Check(Status.FAIL, "discord", what, fix), None
    if response.status_code == 401:
        what = f"Discord refused DISCORD_TOKEN (HTTP 401 from {url})"
        fix = f"reset the token at {PORTAL} (your app, Bot, Reset Token) and set DISCORD_TOKEN"
        return Check(Status.FAIL, "discord", what, fix), None
    user = _json(response)
    if response.status_code != 200 or not isinstance(user, dict) or "id" not in user:
        what = f"Discord answered HTTP {response.status_code} at {url}"
        fix = "check DISCORD_API_BASE_URL; if it is Discord's, try again later"
        return Check(Status.FAIL, "discord", what, fix), None
    what = f"token accepted: logged in as {user.get('username')} ({user['id']})"
    return Check(Status.OK, "discord", what), user


async def discord_checks(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    """The token, the Message Content intent and the permissions in `DEV_GUILD_ID`."""
    if settings.discord_token is None:
        return [Check(Status.SKIP, "discord", "not checked: DISCORD_TOKEN is not set")]
    login, user = await discord_login(settings, http)
    if user is None:
        return [login]
    app = await _application(settings, http)
    checks = [login, _intents(app)]
    if isinstance(app, dict) and app.get("id"):
        checks.append(Check(Status.OK, "discord invite", invite_url(app["id"])))
    if settings.dev_guild_id is not None:
        checks.append(await _guild_permissions(settings, http, int(user["id"])))
    return checks


async def _get(settings: Settings, http: httpx.AsyncClient, path: str) -> httpx.Response | str:
    """GET a Discord route with the bot token: the response, or why it could not be had."""
    assert settings.discord_token is not None
    headers = {"Authorization": f"Bot {settings.discord_token.get_secret_value()}"}
    try:
        return await http.get(discord_base(settings) + path, headers=headers)
    except httpx.HTTPError as exc:
        return connect_cause(exc)


async def _application(settings: Settings, http: httpx.AsyncClient) -> dict[str, Any] | str:
    """`GET /applications/@me`: the application, or why it could not be read."""
    answer = await _get(settings, http, "/applications/@me")
    if isinstance(answer, str):
        return answer
    app = _json(answer)
    return app if isinstance(app, dict) else f"HTTP {answer.status_code}"


def _intents(app: dict[str, Any] | str) -> Check:
    if isinstance(app, str):
        return Check(Status.WARN, "discord intents", f"could not read the application ({app})")
    if int(app.get("flags") or 0) & MESSAGE_CONTENT_FLAGS:
        return Check(Status.OK, "discord intents", "Message Content intent granted")
    return Check(
        Status.WARN,
        "discord intents",
        "the Message Content intent is not enabled: the bot runs, auto-reaction stays off",
        f"switch on Message Content Intent at {PORTAL} (your app, Bot)",
    )


async def _guild_permissions(settings: Settings, http: httpx.AsyncClient, bot_id: int) -> Check:
    guild = settings.dev_guild_id
    area = f"discord server {guild}"
    member = await _get(settings, http, f"/guilds/{guild}/members/{bot_id}")
    if isinstance(member, str):
        return Check(Status.FAIL, area, f"could not read the bot's membership ({member})")
    if member.status_code in (403, 404):
        return Check(
            Status.FAIL,
            area,
            f"the bot is not a member of server {guild} (DEV_GUILD_ID)",
            "invite it with the URL of the discord invite line or correct DEV_GUILD_ID",
        )
    roles = await _get(settings, http, f"/guilds/{guild}/roles")
    member_data, role_data = (
        _json(member),
        (_json(roles) if isinstance(roles, httpx.Response) else None),
    )
    if not isinstance(member_data, dict) or not isinstance(role_data, list):
        why = roles if isinstance(roles, str) else "an unexpected answer"
        return Check(Status.WARN, area, f"could not read the bot's roles ({why})")
    mine = {str(r) for r in member_data.get("roles", [])} | {str(guild)}  # + @everyone
    granted = 0
    for role in role_data:
        if isinstance(role, dict) and str(role.get("id")) in mine:
            granted |= int(role.get("permissions") or 0)
    if granted & ADMINISTRATOR:
        return Check(Status.OK, area, "the bot is an administrator")
    missing = [name for name, bit in NEEDED_PERMISSIONS.items() if not granted & bit]
    if not missing:
        return Check(Status.OK, area, "the bot has every permission it needs")
    return Check(
        Status.FAIL,
        area,
        f"the bot lacks {', '.join(missing)}",
        "give the bot's role these permissions (Server Settings, Roles)",
    )


async def toapis_account(settings: Settings, http: httpx.AsyncClient) -> Check:
    """The account's balance (`GET /v1/user/balance`, spends nothing): ok only when toapis
    answers 200 with `success: true`, and then the line shows the credit."""
    assert settings.toapis_api_key is not None
    base = settings.toapis_base_url
    url = f"{base}{BALANCE_PATH}"
    headers = {"Authorization": f"Bearer {settings.toapis_api_key.get_secret_value()}"}
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        what = f"cannot reach toapis at {url}: {connect_cause(exc)}"
        return Check(Status.FAIL, "toapis", what, "check the network and TOAPIS_BASE_URL")
    if response.status_code == 401:
        what = f"toapis refused TOAPIS_API_KEY (HTTP 401 from {url})"
        fix = "copy the key again from the toapis console into TOAPIS_API_KEY"
        return Check(Status.FAIL, "toapis", what, fix)
    data = _json(response)
    if response.status_code != 200 or not isinstance(data, dict) or data.get("success") is not True:
        shown = "a page that is not JSON" if data is None else "no balance"
        what = f"{url} answered HTTP {response.status_code} with {shown}"
        if isinstance(data, dict) and error_message(data):
            what += f" ({error_message(data)[:200]})"
        fix = "check TOAPIS_BASE_URL (toapis' API, e.g. https://toapis.com); if it is, try later"
        return Check(Status.FAIL, "toapis", what, fix)
    try:
        balance = Balance.model_validate(data)
    except ValidationError:
        what = f"{url} answered a balance that cannot be read"
        return Check(Status.FAIL, "toapis", what, "check TOAPIS_BASE_URL")
    what = f"reachable at {base}, key accepted: {balance.credit_text()}"
    if not balance.has_credit:
        fix = "top up the account in the toapis console: creating fails until then"
        return Check(Status.WARN, "toapis", what + ", no credit left", fix)
    return Check(Status.OK, "toapis", what)


async def toapis_models(settings: Settings, http: httpx.AsyncClient) -> Check | None:
    """The models the service lists (`GET /v1/models`), or None where it lists none."""
    assert settings.toapis_api_key is not None
    headers = {"Authorization": f"Bearer {settings.toapis_api_key.get_secret_value()}"}
    try:
        response = await http.get(f"{settings.toapis_base_url}/v1/models", headers=headers)
    except httpx.HTTPError:
        return None
    data = _json(response)
    listed = data.get("data") if response.status_code == 200 and isinstance(data, dict) else None
    if not isinstance(listed, list):
        return None
    offered = [str(m["id"]) for m in listed if isinstance(m, dict) and "id" in m]
    ours = [m for m in MODELS if m in offered]
    shown = ", ".join(ours) if ours else "none of " + ", ".join(MODELS)
    if ours:
        return Check(Status.OK, "toapis models", f"{len(offered)} offered, ours: {shown}")
    return Check(
        Status.WARN,
        "toapis models",
        f"{len(offered)} offered, {shown}",
        "creating characters will fail; check TOAPIS_BASE_URL and your toapis plan",
    )


async def toapis_checks(settings: Settings, http: httpx.AsyncClient) -> list[Check]:
    """The account check, then the model list where the service has one."""
    if settings.toapis_api_key is None:
        return [Check(Status.SKIP, "toapis", "not checked: TOAPIS_API_KEY is not set")]
    key = await toapis_account(settings, http)
    if key.status is Status.FAIL:
        return [key]
    models = await toapis_models(settings, http)
    return [key] if models is None else [key, models]


def client() -> httpx.AsyncClient:
    """An HTTP client for the checks (no redirects followed: a redirect is an answer)."""
    return httpx.AsyncClient(
        timeout=TIMEOUT, follow_redirects=False, headers={"User-Agent": "sora-character-bot"}
    )
