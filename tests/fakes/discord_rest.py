"""A fake Discord REST API on loopback, good enough for a real discord.py 2.7 client.

Point `discord.http.Route.BASE` at `await fake.start()`; every request lands in
`fake.calls`. The server keeps the visible state of messages (`fake.messages`), answers
command syncs, interaction callbacks and token webhooks like Discord, serves media with
Range support (`/media/{name}`), and mounts a `FakeGateway` at `/gateway`.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import discord
from aiohttp import web

from tests.fakes import payloads
from tests.fakes.components_v2 import InvalidFormBody
from tests.fakes.discord_channels import ChannelRoutes
from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_http import (
    API_PREFIX,
    CALL,
    Faults,
    RecordedCall,
    error,
    json_response,
    matches,
    parse_request,
    rate_limit_headers,
)
from tests.fakes.discord_interactions import InteractionRoutes
from tests.fakes.discord_media import MediaRoutes
from tests.fakes.discord_store import MessageStore
from tests.fakes.ids import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_GUILD_ID,
    OTHER_USER_ID,
    USER_ID,
    snowflake,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "OTHER_GUILD_ID",
    "OTHER_USER_ID",
    "USER_ID",
    "FakeDiscord",
    "RecordedCall",
    "snowflake",
]

Payload = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Hold:
    """A request held by `FakeDiscord.hold_next` until `release` is called.

    `arrived` is set (and `call` filled) when the held request comes in. `release()` lets
    it through to its route; `release(apply=False)` answers 503 without touching any state
    (as if Discord never saw it).
    """

    def __init__(
        self, method: str, path_regex: str, check: Callable[[RecordedCall], bool] | None
    ) -> None:
        self.method = method
        self.path_regex = path_regex
        self.check = check
        self.call: RecordedCall | None = None
        self.arrived = asyncio.Event()
        self.apply = True
        self._released = asyncio.Event()

    def matches(self, call: RecordedCall) -> bool:
        """Whether this (still unused) hold applies to `call`."""
        return (
            self.call is None
            and matches(call, self.method, self.path_regex)
            and (self.check is None or self.check(call))
        )

    def release(self, *, apply: bool = True) -> None:
        """Let the held request go on (or drop it with a 503 when `apply` is False)."""
        self.apply = apply
        self._released.set()

    async def wait_released(self) -> None:
        """Block until `release` is called."""
        await self._released.wait()


class FakeDiscord:
    """Loopback Discord: REST under `/api/v10`, media, and the gateway websocket."""

    def __init__(self, gateway: FakeGateway | None = None) -> None:
        self.calls: list[RecordedCall] = []
        self.store = MessageStore()
        self.faults = Faults()
        self.gateway = gateway if gateway is not None else FakeGateway()
        self.gateway.listeners.append(self._observe_dispatch)
        self.channel_routes = ChannelRoutes(self.store)
        self.interaction_routes = InteractionRoutes(self.store)
        self.media_routes = MediaRoutes(self.store)
        self.commands: dict[int | None, list[Payload]] = {}
        self.sync_count = 0
        self.gateway_url_override: str | None = None
        # `GET /applications/@me` flags: GATEWAY_MESSAGE_CONTENT_LIMITED (the intent granted)
        self.application_flags = 1 << 19
        self.base_url = ""
        self.root_url = ""
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._runner: web.AppRunner | None = None
        self.holds: list[Hold] = []

    # --- life cycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on loopback; return the base URL for `Route.BASE` (`.../api/v10`)."""
        if self._runner is not None:
            raise RuntimeError("FakeDiscord already started")
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.add_routes(self._routes())
        app.add_routes(self.channel_routes.routes())
        app.add_routes(self.interaction_routes.routes())
        app.add_routes(self.media_routes.routes())
        app.add_routes(self.gateway.routes())
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.root_url = f"http://{host}:{self._runner.addresses[0][1]}"
        self.base_url = self.root_url + API_PREFIX
        self.store.root_url = self.root_url
        self.gateway.root_url = self.root_url
        for guild in self.gateway.guilds:
            self.store.add_guild(guild)
        return self.base_url

    async def stop(self) -> None:
        """Close gateway clients and the server (held requests are dropped first)."""
        for hold in self.holds:
            hold.release(apply=False)
        await self.gateway.close_clients()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def gateway_url(self) -> str:
        """The mounted gateway's `ws://.../gateway` URL."""
        return self.gateway.gateway_url

    # --- inspection -----------------------------------------------------------------------

    @property
    def messages(self) -> dict[int, Payload]:
        """Message id -> visible message object (after edits; deleted ones removed)."""
        return self.store.messages

    def message(self, message_id: int) -> Payload | None:
        """A message's visible state, or None."""
        return self.store.message(message_id)

    def messages_in(self, channel_id: int) -> list[Payload]:
        """The live messages of a channel, oldest first."""
        return self.store.messages_in(channel_id)

    @property
    def bytes_sent(self) -> dict[str, int]:
        """Bytes of each `/media/{name}` file actually written to clients."""
        return self.media_routes.bytes_sent

    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        """Recorded calls with `method` (`*` for any) whose path fully matches the regex."""
        return [c for c in self.calls if matches(c, method, path_regex)]

    async def wait_for(
        self,
        predicate: Callable[[RecordedCall], bool],
        timeout: float = 10,  # noqa: ASYNC109
    ) -> RecordedCall:
        """The first recorded call satisfying `predicate`, polling until `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in list(self.calls):
                if predicate(call):
                    return call
            if asyncio.get_running_loop().time() >= deadline:
                seen = "\n".join(f"  {c.method} {c.path}" for c in self.calls)
                raise TimeoutError(f"no matching call within {timeout}s; calls:\n{seen}")
            await asyncio.sleep(0.01)

    def clear(self) -> None:
        """Forget the recorded calls (state such as messages is kept)."""
        self.calls.clear()

    @property
    def interaction_tokens(self) -> list[str]:
        """Every interaction token this fake was given (fed or dispatched), oldest first."""
        return [t for t, thread in self.store.tokens.items() if thread.interaction is not None]

    # --- world setup ----------------------------------------------------------------------

    def add_media(self, name: str, path: str | Path) -> str:
        """Serve `path` at `/media/{name}`; return its URL."""
        self.media_routes.add(name, path)
        return self.media_routes.url(name)

    def media_attachment(self, name: str, **kwargs: Any) -> Payload:
        """An attachment payload pointing at the registered media `name`."""
        return self.media_routes.attachment(name, **kwargs)

    def add_channel(self, channel: Payload) -> Payload:
        """Make a channel known to the REST API."""
        return self.store.add_channel(channel)

    def add_message(self, message: Payload) -> Payload:
        """Store a message (e.g. one a user posted) so REST calls can see it."""
        return self.store.add_message(message)

    def register_interaction(self, interaction: Payload) -> None:
        """Remember an INTERACTION_CREATE (done automatically for gateway dispatches)."""
        self.store.register_interaction(interaction)

    def feed_interaction(self, client: discord.Client, interaction: Payload) -> None:
        """Register `interaction` and hand it to `client` as if the gateway sent it."""
        self.register_interaction(interaction)
        client._connection.parse_interaction_create(interaction)  # type: ignore[arg-type]

    def feed_message(self, client: discord.Client, message: Payload) -> None:
        """Store `message` and hand it to `client` as a MESSAGE_CREATE."""
        self.add_message(message)
        client._connection.parse_message_create(message)  # type: ignore[arg-type]

    def _observe_dispatch(self, event: str, data: Payload) -> None:
        if event == "INTERACTION_CREATE":
            self.register_interaction(data)
        elif event == "MESSAGE_CREATE":
            self.add_message(data)
        elif event == "GUILD_CREATE":
            self.store.add_guild(data)

    # --- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching calls with `status` and `body` (dict -> JSON)."""
        self.faults.add(method, path_regex, status, body, times, headers)

    def rate_limit_next(
        self, method: str, path_regex: str, retry_after: float = 0.05, times: int = 1
    ) -> None:
        """Answer the next matching calls with a real 429 (discord.py sleeps and retries)."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        bucket = f"fake{zlib.crc32(f'{method} {path_regex}'.encode()):08x}"
        headers = rate_limit_headers(retry_after, bucket)
        self.faults.add(method, path_regex, 429, body, times, headers)

    def fail_at_rate(
        self, method: str, path_regex: str, rate: float, status: int, body: Payload
    ) -> None:
        """Answer a share `rate` (0-1) of the matching calls with `status` and `body`."""
        self.faults.add_rate(
            method, path_regex, rate, lambda: json_response(body, status), f"{method} {status}"
        )

    def rate_limit_at_rate(
        self, method: str, path_regex: str, rate: float, retry_after: float = 0.05
    ) -> None:
        """Answer a share `rate` of the matching calls with a real 429 (`retry_after` in the
        body, a `Via` header: discord.py sleeps and retries)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        bucket = f"fake{zlib.crc32(f'{method} {path_regex} rate'.encode()):08x}"

        def answer() -> web.Response:
            headers = rate_limit_headers(retry_after, bucket)
            return json_response({**body, "global": False}, 429, headers)

        self.faults.add_rate(method, path_regex, rate, answer, f"{method} 429")

    def hold_next(
        self,
        method: str,
        path_regex: str,
        check: Callable[[RecordedCall], bool] | None = None,
    ) -> Hold:
        """Hold the next matching call (recorded first) until `Hold.release` is called."""
        hold = Hold(method, path_regex, check)
        self.holds.append(hold)
        return hold

    def expire_interaction_tokens(self, token: str | None = None) -> None:
        """Webhook calls with `token` (every token by default) answer 401 50027."""
        if token is None:
            self.interaction_routes.all_tokens_expired = True
        else:
            self.interaction_routes.expired_tokens.add(token)

    def refuse_interaction_callbacks(self) -> None:
        """Callbacks answer 404 10062 Unknown interaction (the 3 s were missed)."""
        self.interaction_routes.refuse_callbacks = True

    def delete_message(self, message_id: int) -> None:
        """Delete a message as a user would; later edits answer 404 10008."""
        self.store.delete(message_id)

    def deny_channel(self, channel_id: int) -> None:
        """Bot posts, edits and reactions in the channel answer 403 50013."""
        self.channel_routes.denied.add(channel_id)

    # --- plumbing -------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        call = await parse_request(request)
        self.calls.append(call)
        request[CALL] = call
        canned = self.faults.take(call)
        if canned is not None:
            return canned
        hold = next((h for h in self.holds if h.matches(call)), None)
        if hold is not None:
            hold.call = call
            hold.arrived.set()
            await hold.wait_released()
            if not hold.apply:
                return error(503, 0, "held request dropped")
        try:
            return await handler(request)
        except InvalidFormBody as exc:
            body = {"code": 50035, "message": "Invalid Form Body", "errors": exc.errors}
            return json_response(body, status=400)

    async def _not_found(self, request: web.Request) -> web.Response:
        return error(404, 0, "404: Not Found")

    def _routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        cmds = p + "/applications/{app}/commands"
        guild_cmds = p + "/applications/{app}/guilds/{guild}/commands"
        return [
            web.get(p + "/users/@me", self._me),
            web.get(p + "/oauth2/applications/@me", self._app_info),
            web.get(p + "/applications/@me", self._application),
            web.get(p + "/guilds/{guild}/members/{user}", self._guild_member),
            web.get(p + "/guilds/{guild}/roles", self._guild_roles),
            web.get(p + "/gateway", self._gateway),
            web.get(p + "/gateway/bot", self._gateway),
            web.put(cmds, self._sync),
            web.get(cmds, self._synced),
            web.put(guild_cmds, self._sync),
            web.get(guild_cmds, self._synced),
        ]

    # --- identity and gateway -------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(payloads.bot_user())

    async def _app_info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": str(APP_ID),
                "name": BOT_NAME,
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": payloads.user(OTHER_USER_ID, "owner"),
                "team": None,
                "flags": 0,
                "summary": "",
                "bot": payloads.bot_author(),
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.gateway.guilds),
            }
        )

    async def _application(self, request: web.Request) -> web.Response:
        return json_response({"id": str(APP_ID), "name": BOT_NAME, "flags": self.application_flags})

    def _guild(self, request: web.Request) -> Payload | None:
        wanted = request.match_info["guild"]
        return next((g for g in self.gateway.guilds if str(g["id"]) == wanted), None)

    async def _guild_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        wanted = request.match_info["user"]
        for member in guild.get("members", []):
            if str(member["user"]["id"]) == wanted:
                return json_response(member)
        return error(404, 10007, "Unknown Member")

    async def _guild_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        if guild is None:
            return error(404, 10004, "Unknown Guild")
        return json_response(guild.get("roles", []))

    async def _gateway(self, request: web.Request) -> web.Response:
        url = self.gateway_url_override or self.gateway.gateway_url
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": url, "shards": 1, "session_start_limit": limit})

    # --- command sync ---------------------------------------------------------------------

    async def _sync(self, request: web.Request) -> web.Response:
        call = request[CALL]
        guild = request.match_info.get("guild")
        guild_id = int(guild) if guild is not None else None
        answered = []
        for command in call.json if isinstance(call.json, list) else []:
            key = (guild_id, str(command["name"]), int(command.get("type", 1)))
            ident = self._command_ids.setdefault(key, snowflake())
            answer = {
                "description": "",
                "type": 1,
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                **command,
                "id": str(ident),
                "application_id": str(APP_ID),
                "version": str(snowflake()),
            }
            if guild_id is not None:
                answer["guild_id"] = str(guild_id)
            answered.append(answer)
        self.commands[guild_id] = answered
        self.sync_count += 1
        return json_response(answered)

    async def _synced(self, request: web.Request) -> web.Response:
        guild = request.match_info.get("guild")
        return json_response(self.commands.get(int(guild) if guild is not None else None, []))
