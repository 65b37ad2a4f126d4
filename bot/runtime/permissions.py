"""The Discord permissions the bot needs in a server, defined once: for the invite URL
`doctor` prints, for its check of `DEV_GUILD_ID`, and for README's setup steps.

Plain bits, so the checks run without discord.py; a test recomputes them with
`discord.Permissions`.
"""

from __future__ import annotations

NEEDED_PERMISSIONS: dict[str, int] = {
    "View Channels": 1 << 10,  # see the channels it is used in
    "Send Messages": 1 << 11,  # cards, progress and failures posted in the channel
    "Send Messages in Threads": 1 << 38,  # the same, where jobs start in a thread
    "Embed Links": 1 << 14,  # cards and the library are embeds
    "Attach Files": 1 << 15,  # previews, avatars, finished videos
    "Read Message History": 1 << 16,  # the message menu and reactions read the message
    "Add Reactions": 1 << 6,  # auto-reaction (🎭) on posted videos
}
PERMISSIONS_INTEGER = sum(NEEDED_PERMISSIONS.values())
SCOPES = "bot+applications.commands"


def invite_url(client_id: int | str) -> str:
    """The OAuth2 URL that adds the bot to a server with the permissions it needs."""
    return (
        f"https://discord.com/oauth2/authorize?client_id={client_id}"
        f"&scope={SCOPES}&permissions={PERMISSIONS_INTEGER}"
    )
