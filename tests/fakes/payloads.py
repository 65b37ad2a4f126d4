"""Builders of real Discord payloads (what the gateway and REST API send today).

Every builder returns a fresh plain `dict` that discord.py 2.7 parses without a missing
key. The plain objects (`user`, `member`, `channel`, `guild`, `attachment`, `message`,
`reaction_add`, ...) come from `tests.fakes.objects`; this module adds the four
interaction types: `slash_command`, `autocomplete`, `component_click`, `modal_submit`,
`message_command`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.ids import (
    APP_ID,
    APP_PERMISSIONS,
    CHANNEL_ID,
    DEFAULT_PERMISSIONS,
    DM_CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    interaction_token,
    snowflake,
)
from tests.fakes.objects import (
    attachment,
    bot_author,
    bot_member,
    bot_user,
    channel,
    dm_channel,
    everyone_role,
    guild,
    known_user,
    member,
    message,
    reaction_add,
    user,
)

__all__ = [
    "ATTACHMENT_SIZE_LIMIT",
    "attachment",
    "autocomplete",
    "bot_author",
    "bot_member",
    "bot_user",
    "channel",
    "component_click",
    "dm_channel",
    "everyone_role",
    "guild",
    "known_user",
    "member",
    "message",
    "message_command",
    "modal_submit",
    "reaction_add",
    "slash_command",
    "user",
]

Payload = dict[str, Any]

ATTACHMENT_SIZE_LIMIT = 10_485_760
_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))


def _option(name: str, value: Any) -> Payload:
    if isinstance(value, Mapping):
        return {"name": name, **value}
    for kind, number in _OPTION_TYPES:
        if isinstance(value, kind):
            return {"name": name, "type": number, "value": value}
    raise TypeError(f"cannot infer the option type of {name}={value!r}")


def _options(options: Mapping[str, Any] | Sequence[Payload] | None) -> list[Payload]:
    if options is None:
        return []
    if isinstance(options, Mapping):
        return [_option(name, value) for name, value in options.items()]
    return [dict(o) for o in options]


def _interaction(
    type: int,
    data: Payload,
    *,
    guild_id: int | None,
    channel_id: int | None,
    user_id: int,
    permissions: str,
    token: str | None,
    id: int | None,
    dm: bool,
    locale: str,
    guild_locale: str = "en-US",
) -> Payload:
    """The envelope shared by every interaction type (`locale`: the member's language,
    `guild_locale`: the server's).

    In a guild by default (`member`, context 0); `dm=True` gives a bot-DM interaction
    (`user`, context 1, a type 1 channel, DM_CHANNEL_ID unless `channel_id` is given).
    """
    ident = id if id is not None else snowflake()
    payload: Payload = {
        "id": str(ident),
        "application_id": str(APP_ID),
        "type": type,
        "token": token if token is not None else interaction_token(ident),
        "version": 1,
        "data": data,
        "locale": locale,
        "app_permissions": APP_PERMISSIONS,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if dm:
        dm_id = channel_id if channel_id is not None else DM_CHANNEL_ID
        payload["channel_id"] = str(dm_id)
        payload["channel"] = dm_channel(dm_id, user(user_id))
        payload["user"] = user(user_id)
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = 1
        return payload
    gid = guild_id if guild_id is not None else GUILD_ID
    chan_id = channel_id if channel_id is not None else CHANNEL_ID
    payload["guild_id"] = str(gid)
    payload["guild"] = {"id": str(gid), "locale": guild_locale, "features": []}
    payload["guild_locale"] = guild_locale
    payload["channel_id"] = str(chan_id)
    payload["channel"] = channel(chan_id, gid)
    payload["member"] = member(user_id, permissions=permissions)
    payload["authorizing_integration_owners"] = {"0": str(gid)}
    payload["context"] = 0
    return payload


def slash_command(
    name: str,
    options: Mapping[str, Any] | Sequence[Payload] | None = None,
    *,
    group: str | None = None,
    subgroup: str | None = None,
    guild_id: int | None = GUILD_ID,
    channel_id: int | None = None,
    user_id: int = USER_ID,
    permissions: str = DEFAULT_PERMISSIONS,
    resolved: Payload | None = None,
    attachments: Mapping[str, Payload] | None = None,
    command_guild_id: int | None = None,
    token: str | None = None,
    id: int | None = None,
    dm: bool = False,
    locale: str = "en-US",
    guild_locale: str = "en-US",
    type: int = 2,
    focused: str | None = None,
) -> Payload:
    """An INTERACTION_CREATE (type 2) for `/[group [subgroup]] name options...`.

    `name` is the command that runs: `slash_command("make", {...}, group="character")` is
    `/character make` (data.name "character", a type 1 subcommand option "make");
    `subgroup` adds a type 2 level in between. `options` is a mapping name -> value (types
    inferred: str 3, int 4, bool 5, float 10; a mapping value is the option body) or a list
    of raw option dicts. `attachments` maps option names to `attachment(...)` payloads: each
    becomes a type 11 option plus an entry of `data.resolved.attachments`.
    `command_guild_id` sets `data.guild_id`, as Discord does for guild-registered commands.
    `dm=True` makes a bot-DM interaction (`user` instead of `member`, context 1).
    """
    opts = _options(options)
    res: Payload = dict(resolved) if resolved else {}
    for opt_name, att in (attachments or {}).items():
        opts.append({"name": opt_name, "type": 11, "value": att["id"]})
        res.setdefault("attachments", {})[att["id"]] = att
    if focused is not None:
        for opt in opts:
            if opt["name"] == focused:
                opt["focused"] = True
    top = name
    if group is not None:
        top = group
        opts = [{"name": name, "type": 1, "options": opts}]
        if subgroup is not None:
            opts = [{"name": subgroup, "type": 2, "options": opts}]
    data: Payload = {"id": str(snowflake()), "name": top, "type": 1, "options": opts}
    if res:
        data["resolved"] = res
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    return _interaction(
        type,
        data,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        permissions=permissions,
        token=token,
        id=id,
        dm=dm,
        locale=locale,
        guild_locale=guild_locale,
    )


def autocomplete(
    name: str,
    options: Mapping[str, Any] | Sequence[Payload],
    focused: str,
    **kwargs: Any,
) -> Payload:
    """An autocomplete INTERACTION_CREATE (type 4): `focused` names the option being typed."""
    return slash_command(name, options, type=4, focused=focused, **kwargs)


def component_click(
    custom_id: str,
    message: Payload,
    *,
    component_type: int = 2,
    values: Sequence[str] | None = None,
    guild_id: int | None = GUILD_ID,
    channel_id: int | None = None,
    user_id: int = USER_ID,
    permissions: str = DEFAULT_PERMISSIONS,
    token: str | None = None,
    id: int | None = None,
    dm: bool = False,
    locale: str = "en-US",
) -> Payload:
    """A component INTERACTION_CREATE (type 3) on `message` (button by default)."""
    data: Payload = {"custom_id": custom_id, "component_type": component_type}
    if values is not None:
        data["values"] = list(values)
    payload = _interaction(
        3,
        data,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        permissions=permissions,
        token=token,
        id=id,
        dm=dm,
        locale=locale,
    )
    payload["message"] = message
    return payload


def modal_submit(
    custom_id: str,
    values: Mapping[str, str],
    *,
    message: Payload | None = None,
    guild_id: int | None = GUILD_ID,
    channel_id: int | None = None,
    user_id: int = USER_ID,
    permissions: str = DEFAULT_PERMISSIONS,
    token: str | None = None,
    id: int | None = None,
    dm: bool = False,
    locale: str = "en-US",
) -> Payload:
    """A modal submit INTERACTION_CREATE (type 5): one action row per text input."""
    rows = [
        {
            "type": 1,
            "id": 2 * i + 1,
            "components": [{"type": 4, "id": 2 * i + 2, "custom_id": key, "value": value}],
        }
        for i, (key, value) in enumerate(values.items())
    ]
    payload = _interaction(
        5,
        {"custom_id": custom_id, "components": rows},
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        permissions=permissions,
        token=token,
        id=id,
        dm=dm,
        locale=locale,
    )
    if message is not None:
        payload["message"] = message
    return payload


def message_command(
    name: str,
    target_message: Payload,
    *,
    guild_id: int | None = GUILD_ID,
    channel_id: int | None = None,
    user_id: int = USER_ID,
    permissions: str = DEFAULT_PERMISSIONS,
    command_guild_id: int | None = None,
    token: str | None = None,
    id: int | None = None,
    dm: bool = False,
    locale: str = "en-US",
) -> Payload:
    """A message context-menu INTERACTION_CREATE (type 2, `data.type` 3)."""
    target = {k: v for k, v in target_message.items() if k not in ("member", "guild_id")}
    data: Payload = {
        "id": str(snowflake()),
        "name": name,
        "type": 3,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    return _interaction(
        2,
        data,
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        permissions=permissions,
        token=token,
        id=id,
        dm=dm,
        locale=locale,
    )
