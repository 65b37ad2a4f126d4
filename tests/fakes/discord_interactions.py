"""Interaction routes of the fake Discord: the initial callback and the token webhooks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes import payloads
from tests.fakes.discord_http import (
    API_PREFIX,
    CALL,
    RecordedCall,
    error,
    invalid_webhook_token,
    json_response,
    no_content,
    unknown_interaction,
    unknown_message,
)
from tests.fakes.discord_store import EPHEMERAL, LOADING, MessageStore, TokenThread

Payload = dict[str, Any]

CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7


def unknown_webhook() -> web.Response:
    """`404 Unknown Webhook` (10015): a token that was never acknowledged."""
    return error(404, 10015, "Unknown Webhook")


class InteractionRoutes:
    """`POST /interactions/{id}/{token}/callback` and `/webhooks/{app}/{token}/...`."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.all_tokens_expired = False
        self.expired_tokens: set[str] = set()
        self.refuse_callbacks = False

    def routes(self) -> list[web.RouteDef]:
        """The aiohttp route definitions."""
        hook = API_PREFIX + "/webhooks/{app}/{token}"
        return [
            web.post(API_PREFIX + "/interactions/{id}/{token}/callback", self.callback),
            web.post(hook, self.followup),
            web.get(hook + "/messages/{message}", self.get_message),
            web.patch(hook + "/messages/{message}", self.edit_message),
            web.delete(hook + "/messages/{message}", self.delete_message),
        ]

    def expired(self, token: str) -> bool:
        """Whether webhook calls with `token` answer 401 50027."""
        return self.all_tokens_expired or token in self.expired_tokens

    # --- the initial response ---------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        """Acknowledge an interaction; answer `{"interaction": ..., "resource": ...}`."""
        call = request[CALL]
        token = request.match_info["token"]
        if self.refuse_callbacks:
            return unknown_interaction()
        thread = self.store.thread(token)
        if thread.acknowledged:
            return error(400, 40060, "Interaction has already been acknowledged.")
        message = self._answer(thread, call, token)  # a refused body acknowledges nothing
        thread.acknowledged = True
        kind = int((call.json if isinstance(call.json, dict) else {}).get("type", 0))
        known = thread.interaction
        if message is not None:
            thread.original_id = int(message["id"])
        flags = int(message["flags"]) if message is not None else 0
        resource: Payload = {"type": kind}
        if message is not None:
            resource["message"] = message
        answer = {
            "interaction": {
                "id": request.match_info["id"],
                "type": int(known["type"]) if known else 2,
                "response_message_id": str(thread.original_id) if thread.original_id else None,
                "response_message_loading": bool(flags & LOADING),
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
            "resource": resource,
        }
        return json_response(answer)

    def _answer(self, thread: TokenThread, call: RecordedCall, token: str) -> Payload | None:
        """The message an interaction callback creates or edits, if any."""
        body = call.json if isinstance(call.json, dict) else {}
        kind = int(body.get("type", 0))
        data: Payload = body.get("data") or {}
        known = thread.interaction
        message: Payload | None = None
        if kind == CHANNEL_MESSAGE:
            message = self._create(token, data, call.files)
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            message = self._create(token, {"flags": flags}, [])
        elif kind in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            target = known.get("message") if known else None
            if target is not None and int(target["id"]) in self.store.messages:
                thread.original_id = int(target["id"])
                if kind == UPDATE_MESSAGE:
                    message = self.store.edit(thread.original_id, data, call.files)
            elif kind == UPDATE_MESSAGE:
                message = self._create(token, data, call.files)
        return message

    def _create(self, token: str, body: Payload, files: list[tuple[str, str, bytes]]) -> Payload:
        """A message answering the interaction of `token`."""
        known = self.store.thread(token).interaction
        kind = 20
        if known is not None and int(known["type"]) != 2:
            kind = 0
        elif known is not None and int(known["data"].get("type", 1)) != 1:
            kind = 23
        return self.store.create(
            self.store.interaction_channel(token),
            body,
            files,
            author=payloads.bot_author(),
            type=kind,
            extra=self.store.interaction_extra(token),
        )

    # --- webhook calls ----------------------------------------------------------------------

    def _check(self, request: web.Request) -> web.Response | None:
        token = request.match_info["token"]
        if self.expired(token):
            return invalid_webhook_token()
        if not self.store.thread(token).acknowledged:
            return unknown_webhook()
        return None

    def _target(self, request: web.Request) -> int | None:
        """The message id a webhook call refers to (`@original` resolved), if it may."""
        token = request.match_info["token"]
        ref = request.match_info["message"]
        if ref == "@original":
            target = self.store.thread(token).original_id
        elif ref.isdigit():
            target = int(ref)
        else:
            return None
        if target is None or not self.store.token_owns(token, target):
            return None
        return target

    async def followup(self, request: web.Request) -> web.Response:
        """Create a followup; the first one after a defer replaces the loading message."""
        if (failure := self._check(request)) is not None:
            return failure
        call = request[CALL]
        token = request.match_info["token"]
        body = call.json if isinstance(call.json, dict) else {}
        thread = self.store.thread(token)
        original = self.store.message(thread.original_id) if thread.original_id else None
        if original is not None and int(original["flags"]) & LOADING:
            # Discord: the first followup after a deferral edits the "thinking" message and
            # keeps the deferral's ephemeral flag, whatever the followup asks for.
            return json_response(self.store.edit(int(original["id"]), body, call.files))
        message = self._create(token, body, call.files)
        thread.followup_ids.append(int(message["id"]))
        return json_response(message)

    async def get_message(self, request: web.Request) -> web.Response:
        """`GET .../messages/{id|@original}`."""
        if (failure := self._check(request)) is not None:
            return failure
        target = self._target(request)
        if target is None:
            return unknown_message()
        return json_response(self.store.messages[target])

    async def edit_message(self, request: web.Request) -> web.Response:
        """`PATCH .../messages/{id|@original}`: merge the edit, answer the new state."""
        if (failure := self._check(request)) is not None:
            return failure
        call = request[CALL]
        target = self._target(request)
        if target is None:
            return unknown_message()
        body = call.json if isinstance(call.json, dict) else {}
        return json_response(self.store.edit(target, body, call.files))

    async def delete_message(self, request: web.Request) -> web.Response:
        """`DELETE .../messages/{id|@original}`: 204."""
        if (failure := self._check(request)) is not None:
            return failure
        target = self._target(request)
        if target is None:
            return unknown_message()
        self.store.delete(target)
        return no_content()
