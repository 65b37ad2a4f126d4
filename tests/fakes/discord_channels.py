"""Bot-token channel routes of the fake Discord: DMs, channels, messages, reactions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes import payloads
from tests.fakes.discord_http import (
    API_PREFIX,
    CALL,
    error,
    json_response,
    missing_permissions,
    no_content,
    unknown_channel,
    unknown_message,
)
from tests.fakes.discord_store import EPHEMERAL, MessageStore
from tests.fakes.ids import BOT_ID

Payload = dict[str, Any]


class ChannelRoutes:
    """`/channels/...` and `POST /users/@me/channels`, as a bot token sees them.

    Unknown channels answer 404 10003; ephemeral messages are invisible (404 10008), as
    they are to a bot token on Discord; channels in `denied` refuse writes (403 50013).
    """

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.denied: set[int] = set()

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp route definitions."""
        p = API_PREFIX
        msg = p + "/channels/{channel}/messages/{message}"
        return [
            web.post(p + "/users/@me/channels", self._open_dm),
            web.get(p + "/users/{user}", self._user),
            web.get(p + "/channels/{channel}", self._channel),
            web.get(p + "/channels/{channel}/messages", self._history),
            web.post(p + "/channels/{channel}/messages", self._send),
            web.get(msg, self._get),
            web.patch(msg, self._edit),
            web.delete(msg, self._delete),
            web.put(msg + "/reactions/{emoji}/@me", self._react),
        ]

    async def _user(self, request: web.Request) -> web.Response:
        raw = request.match_info["user"]
        if not raw.isdigit():
            return error(404, 10013, "Unknown User")
        return json_response(payloads.known_user(int(raw)))

    async def _open_dm(self, request: web.Request) -> web.Response:
        call = request[CALL]
        body = call.json if isinstance(call.json, dict) else {}
        recipient = payloads.known_user(int(body["recipient_id"]))
        return json_response(self.store.dm_channel(recipient))

    def _channel_id(self, request: web.Request) -> int | None:
        raw = request.match_info["channel"]
        if not raw.isdigit() or int(raw) not in self.store.channels:
            return None
        return int(raw)

    def _own_message(self, request: web.Request, channel_id: int) -> Payload | None:
        """The message addressed by a bot-token call (ephemeral ones are invisible)."""
        raw = request.match_info["message"]
        msg = self.store.message(int(raw)) if raw.isdigit() else None
        if msg is None or int(msg["channel_id"]) != channel_id:
            return None
        if int(msg.get("flags") or 0) & EPHEMERAL:
            return None
        return msg

    async def _channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        return json_response(self.store.channels[channel_id])

    async def _history(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        limit = int(request.query.get("limit", "50"))
        visible = [m for m in self.store.messages_in(channel_id) if not int(m["flags"]) & EPHEMERAL]
        return json_response(list(reversed(visible))[:limit])

    async def _send(self, request: web.Request) -> web.Response:
        call = request[CALL]
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        if channel_id in self.denied:
            return missing_permissions()
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("enforce_nonce"):
            first = self.store.nonce_message(channel_id, body.get("nonce"))
            if first is not None:
                return json_response(first)
        author = payloads.bot_author()
        return json_response(self.store.create(channel_id, body, call.files, author=author))

    async def _get(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        msg = self._own_message(request, channel_id)
        return unknown_message() if msg is None else json_response(msg)

    async def _edit(self, request: web.Request) -> web.Response:
        call = request[CALL]
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        if channel_id in self.denied:
            return missing_permissions()
        msg = self._own_message(request, channel_id)
        if msg is None:
            return unknown_message()
        if int(msg["author"]["id"]) != BOT_ID:
            return error(403, 50005, "Cannot edit a message authored by another user")
        body = call.json if isinstance(call.json, dict) else {}
        return json_response(self.store.edit(int(msg["id"]), body, call.files))

    async def _delete(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        msg = self._own_message(request, channel_id)
        if msg is None:
            return unknown_message()
        self.store.delete(int(msg["id"]))
        return no_content()

    async def _react(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        if channel_id is None:
            return unknown_channel()
        if channel_id in self.denied:
            return missing_permissions()
        msg = self._own_message(request, channel_id)
        if msg is None:
            return unknown_message()
        self.store.add_reaction(int(msg["id"]), request.match_info["emoji"])
        return no_content()
