"""Builders of Discord's plain objects: users, members, channels, guilds, messages.

Each returns a fresh `dict` shaped like what Discord sends today (REST and gateway), which
discord.py 2.7 parses without a missing key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tests.fakes.ids import (
    BOT_ID,
    BOT_NAME,
    CHANNEL_ID,
    CHANNEL_NAME,
    DEFAULT_PERMISSIONS,
    GUILD_ID,
    GUILD_NAME,
    OTHER_USER_ID,
    USER_ID,
    iso_now,
    snowflake,
)

Payload = dict[str, Any]

UNREACHABLE = "http://127.0.0.1:9"
"""A loopback origin with nothing listening (the discard port): downloads fail at once."""


def user(id: int = USER_ID, name: str = "tester", *, bot: bool = False) -> Payload:
    """A user object."""
    return {
        "id": str(id),
        "username": name,
        "discriminator": "0",
        "global_name": None if bot else name.title(),
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
    }


def known_user(id: int) -> Payload:
    """The user object of an id: the bot, `tester` (USER_ID), `other` or `user<digits>`."""
    if id == BOT_ID:
        return bot_author()
    names = {USER_ID: "tester", OTHER_USER_ID: "other"}
    return user(id, names.get(id, f"user{str(id)[-4:]}"))


def bot_author() -> Payload:
    """The bot as a message author (a plain user object)."""
    return user(BOT_ID, BOT_NAME.lower().replace(" ", "-"), bot=True)


def bot_user() -> Payload:
    """The bot's own user object (`GET /users/@me`, READY `user`)."""
    return {
        **bot_author(),
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
        "locale": "en-US",
        "email": None,
    }


def member(
    user_id: int = USER_ID,
    name: str = "tester",
    permissions: str | None = DEFAULT_PERMISSIONS,
    *,
    roles: Iterable[int] = (),
    bot: bool = False,
) -> Payload:
    """A guild member with its `user`; `permissions` (a string) as interactions carry it."""
    data: Payload = {
        "user": user(user_id, name, bot=bot),
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in roles],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }
    if permissions is not None:
        data["permissions"] = permissions
    return data


def bot_member() -> Payload:
    """The bot as a member of a guild (GUILD_CREATE `members`)."""
    data = member(BOT_ID, "bot", permissions=None, bot=True)
    data["user"] = bot_user()
    return data


def channel(
    id: int = CHANNEL_ID,
    guild_id: int | None = GUILD_ID,
    name: str = CHANNEL_NAME,
    *,
    type: int = 0,
    position: int = 0,
) -> Payload:
    """A guild text channel (type 0), as REST, GUILD_CREATE and interactions send it."""
    data: Payload = {
        "id": str(id),
        "type": type,
        "name": name,
        "position": position,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "permission_overwrites": [],
        "flags": 0,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


def dm_channel(id: int, recipient: Payload) -> Payload:
    """A DM channel (type 1) with one recipient."""
    return {
        "id": str(id),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [recipient],
    }


def everyone_role(guild_id: int = GUILD_ID, permissions: str = DEFAULT_PERMISSIONS) -> Payload:
    """The @everyone role (its id is the guild's)."""
    return {
        "id": str(guild_id),
        "name": "@everyone",
        "permissions": permissions,
        "position": 0,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }


def guild(
    id: int = GUILD_ID,
    name: str = GUILD_NAME,
    *,
    channels: Sequence[Payload] | None = None,
    members: Sequence[Payload] | None = None,
    owner_id: int = OTHER_USER_ID,
) -> Payload:
    """A complete GUILD_CREATE payload (default: one text channel, the bot as a member)."""
    chans = list(channels) if channels is not None else [channel(CHANNEL_ID, None)]
    mems = list(members) if members is not None else [bot_member()]
    return {
        "id": str(id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "max_members": 500000,
        "max_video_channel_users": 25,
        "features": [],
        "roles": [everyone_role(id)],
        "emojis": [],
        "stickers": [],
        "channels": chans,
        "threads": [],
        "members": mems,
        "member_count": len(mems) + 1,
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "large": False,
        "unavailable": False,
        "lazy": True,
        "application_id": None,
        "incidents_data": None,
    }


def attachment(
    id: int | None = None,
    filename: str = "clip.mp4",
    url: str | None = None,
    size: int = 1024,
    content_type: str | None = "video/mp4",
    duration_secs: float | None = None,
    *,
    proxy_url: str | None = None,
    width: int | None = None,
    height: int | None = None,
) -> Payload:
    """An attachment object.

    `url`/`proxy_url` should point at the fake's `/media/...` (`FakeDiscord.media_attachment`);
    the default is a loopback address nothing listens on, so a stray download fails fast
    instead of reaching the internet.
    """
    ident = str(id if id is not None else snowflake())
    link = url if url is not None else f"{UNREACHABLE}/attachments/{ident}/{filename}"
    data: Payload = {
        "id": ident,
        "filename": filename,
        "size": size,
        "url": link,
        "proxy_url": proxy_url or link,
        "content_type": content_type,
        "width": width,
        "height": height,
        "flags": 0,
    }
    if duration_secs is not None:
        data["duration_secs"] = duration_secs
    return data


def message(
    id: int | None = None,
    channel_id: int = CHANNEL_ID,
    author: Payload | None = None,
    content: str = "",
    attachments: Sequence[Payload] = (),
    guild_id: int | None = GUILD_ID,
    embeds: Sequence[Payload] = (),
    *,
    components: Sequence[Payload] = (),
    flags: int = 0,
    with_member: bool = True,
) -> Payload:
    """A full message object, MESSAGE_CREATE-ready (with `guild_id` and `member` in a guild)."""
    who = author if author is not None else user()
    data: Payload = {
        "id": str(id if id is not None else snowflake()),
        "channel_id": str(channel_id),
        "type": 0,
        "content": content,
        "author": who,
        "embeds": list(embeds),
        "attachments": list(attachments),
        "components": list(components),
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "flags": flags,
        "reactions": [],
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        if with_member:
            partial = member(int(who["id"]), who["username"], permissions=None)
            del partial["user"]
            data["member"] = partial
    return data


def reaction_add(
    message_id: int,
    emoji: str = "\N{THUMBS UP SIGN}",
    *,
    user_id: int = USER_ID,
    channel_id: int = CHANNEL_ID,
    guild_id: int | None = GUILD_ID,
    message_author_id: int = BOT_ID,
) -> Payload:
    """A MESSAGE_REACTION_ADD payload for a unicode emoji."""
    data: Payload = {
        "user_id": str(user_id),
        "channel_id": str(channel_id),
        "message_id": str(message_id),
        "message_author_id": str(message_author_id),
        "emoji": {"id": None, "name": emoji},
        "burst": False,
        "burst_colors": [],
        "type": 0,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        data["member"] = member(user_id)
    return data
