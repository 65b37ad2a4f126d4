"""The fake Discord's state: channels, messages (as seen after every edit), uploads."""

from __future__ import annotations

import copy
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import payloads
from tests.fakes.components_v2 import IS_COMPONENTS_V2, check_edit, check_send
from tests.fakes.ids import APP_ID, CHANNEL_ID, iso_now, snowflake

Payload = dict[str, Any]
Upload = tuple[str, str, bytes]

SEEN_INTERACTION_TOKENS: set[str] = set()
"""Every interaction token any fake was given in this process (for the log scan)."""

EPHEMERAL = 64
LOADING = 128
_EDITABLE = ("content", "embeds", "components")


@dataclass
class TokenThread:
    """The messages an interaction token has produced."""

    interaction: Payload | None = None
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    acknowledged: bool = False


class MessageStore:
    """Messages by id, channels by id, interaction tokens, uploaded attachment bytes."""

    def __init__(self) -> None:
        self.root_url = ""
        self.messages: dict[int, Payload] = {}
        self.channels: dict[int, Payload] = {CHANNEL_ID: payloads.channel()}
        self.deleted: set[int] = set()
        self.uploads: dict[int, bytes] = {}
        self.tokens: dict[str, TokenThread] = {}
        self.dm_channels: dict[int, int] = {}
        self._nonces: dict[tuple[int, str], int] = {}

    # --- channels -------------------------------------------------------------------------

    def add_channel(self, channel: Payload) -> Payload:
        """Make a channel known (GET /channels/{id} answers it; messages may be posted)."""
        self.channels[int(channel["id"])] = channel
        return channel

    def add_guild(self, guild: Payload) -> None:
        """Make the channels of a GUILD_CREATE payload known (with their `guild_id`)."""
        for chan in guild.get("channels", []):
            if int(chan["id"]) not in self.channels:
                self.add_channel({**chan, "guild_id": guild["id"]})

    def dm_channel(self, recipient: Payload) -> Payload:
        """The DM channel with `recipient` (created once per user)."""
        user_id = int(recipient["id"])
        if user_id not in self.dm_channels:
            chan = payloads.dm_channel(snowflake(), recipient)
            self.dm_channels[user_id] = int(chan["id"])
            self.add_channel(chan)
        return self.channels[self.dm_channels[user_id]]

    # --- messages -------------------------------------------------------------------------

    def message(self, message_id: int) -> Payload | None:
        """The visible state of a message, or None if unknown or deleted."""
        return self.messages.get(message_id)

    def messages_in(self, channel_id: int) -> list[Payload]:
        """The live messages of a channel, oldest first."""
        found = [m for m in self.messages.values() if int(m["channel_id"]) == channel_id]
        return sorted(found, key=lambda m: int(m["id"]))

    def add_message(self, message: Payload) -> Payload:
        """Store a message built elsewhere (e.g. a user's MESSAGE_CREATE)."""
        stored = copy.deepcopy(message)
        stored.pop("member", None)
        stored.pop("guild_id", None)
        self.messages[int(stored["id"])] = stored
        return stored

    def delete(self, message_id: int) -> bool:
        """Delete a message; True if it existed."""
        self.deleted.add(message_id)
        return self.messages.pop(message_id, None) is not None

    def nonce_message(self, channel_id: int, nonce: str | int | None) -> Payload | None:
        """The message first created in `channel_id` with `nonce`, if still there."""
        if nonce is None:
            return None
        found = self._nonces.get((channel_id, str(nonce)))
        return None if found is None else self.messages.get(found)

    def create(
        self,
        channel_id: int,
        body: Payload,
        files: Sequence[Upload],
        *,
        author: Payload,
        type: int = 0,
        extra: Payload | None = None,
    ) -> Payload:
        """Create a message from a send body (+ uploaded files) and return it (raises
        `InvalidFormBody` where Discord answers 400)."""
        attachments = self._attachments(body.get("attachments"), files, [])
        check_send(body, [str(a["filename"]) for a in attachments])
        message_id = snowflake()
        msg = payloads.message(
            message_id,
            channel_id,
            author=author,
            content=str(body.get("content") or ""),
            guild_id=None,
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0),
        )
        msg["type"] = 19 if body.get("message_reference") and type == 0 else type
        msg["tts"] = bool(body.get("tts", False))
        msg["attachments"] = attachments
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
            self._nonces.setdefault((channel_id, str(body["nonce"])), message_id)
        if body.get("message_reference"):
            msg["message_reference"] = {**body["message_reference"], "type": 0}
        msg.update(extra or {})
        self.messages[message_id] = msg
        return msg

    def edit(self, message_id: int, body: Payload, files: Sequence[Upload]) -> Payload:
        """Apply an edit body (+ files) to a stored message and return its new state
        (raises `InvalidFormBody` where Discord answers 400)."""
        msg = self.messages[message_id]
        attachments = msg["attachments"]
        if "attachments" in body or files:
            attachments = self._attachments(body.get("attachments"), files, attachments)
        check_edit(msg, body, [str(a["filename"]) for a in attachments])
        for key in _EDITABLE:
            if key in body:
                msg[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        msg["attachments"] = attachments
        flags = int(msg.get("flags") or 0)
        if "flags" in body:  # what a message is (ephemeral, V2) stays
            flags = int(body["flags"] or 0) | (flags & (EPHEMERAL | IS_COMPONENTS_V2))
        msg["flags"] = flags & ~LOADING
        msg["edited_timestamp"] = iso_now()
        return msg

    def add_reaction(self, message_id: int, emoji: str) -> None:
        """Add the bot's reaction `emoji` (unicode, or `name:id`) to a message."""
        msg = self.messages[message_id]
        name, _, custom_id = emoji.partition(":")
        data = {"id": custom_id or None, "name": name}
        for reaction in msg.setdefault("reactions", []):
            if reaction["emoji"] == data:
                if not reaction["me"]:
                    reaction["me"] = True
                    reaction["count"] += 1
                    reaction["count_details"]["normal"] += 1
                return
        msg["reactions"].append(
            {
                "emoji": data,
                "count": 1,
                "count_details": {"burst": 0, "normal": 1},
                "me": True,
                "me_burst": False,
                "burst_colors": [],
            }
        )

    def _attachments(
        self, wanted: list[Payload] | None, files: Sequence[Upload], current: list[Payload]
    ) -> list[Payload]:
        """The attachment list after a send/edit, as Discord computes it.

        Entries of `wanted` whose id is a current attachment are kept; others reference the
        uploaded `files[n]` by index n. Without `wanted`, current ones stay and files append.
        """
        by_id = {str(a["id"]): a for a in current}
        uploads = {_file_index(up[0], i): up for i, up in enumerate(files)}
        result: list[Payload] = []
        used: set[int] = set()
        if wanted is None:
            result.extend(current)
        else:
            for entry in wanted:
                key = str(entry.get("id"))
                if key in by_id:
                    result.append(by_id[key])
                elif key.isdigit() and int(key) in uploads:
                    used.add(int(key))
                    result.append(self._upload(uploads[int(key)], entry))
        for index, upload in sorted(uploads.items()):
            if index not in used:
                result.append(self._upload(upload, {}))
        return result

    def _upload(self, upload: Upload, entry: Payload) -> Payload:
        """Turn an uploaded file into a CDN-like attachment served by the fake."""
        _, filename, data = upload
        filename = str(entry.get("filename") or filename)
        att_id = snowflake()
        self.uploads[att_id] = data
        url = f"{self.root_url}/attachments/{att_id}/{filename}"
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        att = payloads.attachment(att_id, filename, url, len(data), content_type)
        if entry.get("description"):
            att["description"] = entry["description"]
        return att

    # --- interaction tokens ---------------------------------------------------------------

    def thread(self, token: str) -> TokenThread:
        """The record of an interaction token (created on first use)."""
        return self.tokens.setdefault(token, TokenThread())

    def register_interaction(self, interaction: Payload) -> None:
        """Remember an INTERACTION_CREATE so answers use its channel, user and message."""
        self.thread(str(interaction["token"])).interaction = interaction
        SEEN_INTERACTION_TOKENS.add(str(interaction["token"]))
        chan = interaction.get("channel")
        if chan and int(chan["id"]) not in self.channels:
            self.add_channel(dict(chan))
        target = interaction.get("message")
        if target and int(target["id"]) not in self.messages:
            self.add_message(target)

    def interaction_extra(self, token: str) -> Payload:
        """`webhook_id`, `application_id` and `interaction_metadata` of an answer message."""
        extra: Payload = {"webhook_id": str(APP_ID), "application_id": str(APP_ID)}
        known = self.thread(token).interaction
        if known is not None:
            who = known["member"]["user"] if "member" in known else known.get("user")
            extra["interaction_metadata"] = {
                "id": known["id"],
                "type": known["type"],
                "user": who,
                "authorizing_integration_owners": known.get("authorizing_integration_owners", {}),
            }
        return extra

    def interaction_channel(self, token: str) -> int:
        """The channel an interaction came from (CHANNEL_ID if it was never registered)."""
        known = self.thread(token).interaction
        return int(known["channel_id"]) if known is not None else CHANNEL_ID

    def token_owns(self, token: str, message_id: int) -> bool:
        """Whether an interaction webhook may touch `message_id` (one of the app's messages)."""
        msg = self.messages.get(message_id)
        return msg is not None and msg.get("webhook_id") == str(APP_ID)


def _file_index(name: str, position: int) -> int:
    """`files[3]` -> 3 (the position when the part name has no index)."""
    if name.startswith("files[") and name.endswith("]") and name[6:-1].isdigit():
        return int(name[6:-1])
    return position
