"""The permission integer of the invite URL is what discord.py computes for the
permissions the bot needs."""

from __future__ import annotations

from pathlib import Path

import discord

from bot.runtime.permissions import NEEDED_PERMISSIONS, PERMISSIONS_INTEGER, invite_url


def test_the_permission_integer_is_discords_for_the_needed_permissions() -> None:
    expected = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        add_reactions=True,
    )
    assert expected.value == PERMISSIONS_INTEGER
    assert len(NEEDED_PERMISSIONS) == sum(1 for _, granted in expected if granted)


def test_the_invite_url_asks_for_both_scopes_and_the_permissions() -> None:
    assert invite_url(42) == (
        "https://discord.com/oauth2/authorize?client_id=42"
        f"&scope=bot+applications.commands&permissions={PERMISSIONS_INTEGER}"
    )


def test_readme_gives_the_same_integer_and_names_every_permission() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    step = readme.split("**OAuth2 → URL Generator**", 1)[1].split("\n4. ", 1)[0]
    assert f"`{PERMISSIONS_INTEGER}`" in step
    for name in NEEDED_PERMISSIONS:
        assert f"*{name}*" in " ".join(step.split()), name
