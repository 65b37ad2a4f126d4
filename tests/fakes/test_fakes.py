"""The Discord fakes, exercised by a real discord.py client (no mocks of discord types)."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands
from discord.ext import commands

from tests.fakes import (
    APP_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    GUILD_ID,
    OTHER_USER_ID,
    USER_ID,
    FakeDiscord,
    RecordedCall,
    payloads,
)

CALLBACK = r"/interactions/\d+/[^/]+/callback"
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
FOLLOWUP = r"/webhooks/\d+/[^/]+"
CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"


class Outcome:
    """What a command reported: done, or the exception it raised."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.error: BaseException | None = None
        self.value: Any = None

    def finish(self, value: Any = None) -> None:
        self.value = value
        self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()

    async def wait(self, timeout: float = 3) -> Any:  # noqa: ASYNC109
        await asyncio.wait_for(self.done.wait(), timeout)
        if self.error is not None:
            raise self.error
        return self.value


def callback_of(kind: int) -> Callable[[RecordedCall], bool]:
    """A `wait_for` predicate: an interaction callback of type `kind`."""

    def match(call: RecordedCall) -> bool:
        body = call.json if isinstance(call.json, dict) else {}
        return re.fullmatch(CALLBACK, call.path) is not None and body.get("type") == kind

    return match


def make_bot(**options: Any) -> commands.Bot:
    return commands.Bot(command_prefix="!", intents=discord.Intents.default(), **options)


@pytest_asyncio.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[commands.Bot]:
    """A real Bot logged in against the fake (no gateway connection)."""
    client = make_bot()
    await client.login("fake-token")
    try:
        yield client
    finally:
        await client.close()


def watch_errors(client: commands.Bot, outcome: Outcome) -> None:
    """Route app command errors to `outcome` instead of the log."""

    async def on_error(interaction: discord.Interaction, error: Exception) -> None:
        outcome.fail(error)

    client.tree.on_error = on_error  # type: ignore[method-assign]


def add_command(
    client: commands.Bot, name: str, body: Callable[[discord.Interaction], Awaitable[Any]]
) -> Outcome:
    """Register `/name` running `body`; the returned Outcome gets its result."""
    outcome = Outcome()
    watch_errors(client, outcome)

    @client.tree.command(name=name, description=name)
    async def command(interaction: discord.Interaction) -> None:
        outcome.finish(await body(interaction))

    return outcome


async def test_login_sync_and_a_deferred_command(fake_discord: FakeDiscord, bot: commands.Bot):
    assert bot.user is not None and bot.application_id == APP_ID
    assert [c.path for c in fake_discord.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    outcome = Outcome()
    watch_errors(bot, outcome)
    group = app_commands.Group(name="character", description="Characters")

    @group.command(name="make", description="Make one")
    async def make(interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(
            content="done",
            embed=discord.Embed(title=prompt),
            attachments=[discord.File(io.BytesIO(b"result-bytes"), filename="result.txt")],
        )
        followup = await interaction.followup.send("x", ephemeral=True, wait=True)
        outcome.finish(followup)

    bot.tree.add_command(group)
    synced = await bot.tree.sync()
    assert [c.name for c in synced] == ["character"] and synced[0].id > 0
    assert fake_discord.sync_count == 1
    guild = discord.Object(GUILD_ID)
    bot.tree.copy_global_to(guild=guild)
    assert [c.guild_id for c in await bot.tree.sync(guild=guild)] == [GUILD_ID]
    assert (await bot.tree.fetch_commands())[0].id == synced[0].id

    fake_discord.feed_interaction(
        bot, payloads.slash_command("make", {"prompt": "Sora"}, group="character")
    )
    followup = await outcome.wait()

    [callback] = fake_discord.calls_to("POST", CALLBACK)
    assert isinstance(callback.json, dict) and callback.json["type"] == 5
    [edit] = fake_discord.calls_to("PATCH", ORIGINAL)
    assert isinstance(edit.json, dict) and edit.json["content"] == "done"
    assert edit.json["embeds"][0]["title"] == "Sora"
    assert [(name, filename, data) for name, filename, data in edit.files] == [
        ("files[0]", "result.txt", b"result-bytes")
    ]
    [sent] = fake_discord.calls_to("POST", FOLLOWUP)
    assert isinstance(sent.json, dict) and sent.json["flags"] == 64
    assert isinstance(followup, discord.WebhookMessage) and followup.flags.ephemeral
    original = fake_discord.messages_in(CHANNEL_ID)[0]
    assert original["content"] == "done" and original["flags"] == 0
    [attachment] = original["attachments"]
    assert attachment["url"].startswith(fake_discord.root_url + "/attachments/")
    async with aiohttp.ClientSession() as http, http.get(attachment["url"]) as response:
        assert await response.read() == b"result-bytes"


async def test_first_followup_after_defer_replaces_the_loading_message(
    fake_discord: FakeDiscord, bot: commands.Bot
):
    async def body(interaction: discord.Interaction) -> discord.WebhookMessage:
        await interaction.response.defer(ephemeral=True)
        return await interaction.followup.send("public?", wait=True)

    outcome = add_command(bot, "ping", body)
    fake_discord.rate_limit_next("POST", FOLLOWUP)  # the webhook adapter retries too
    fake_discord.feed_interaction(bot, payloads.slash_command("ping"))
    message = await outcome.wait()
    assert len(fake_discord.calls_to("POST", FOLLOWUP)) == 2
    [stored] = fake_discord.messages.values()
    assert int(stored["id"]) == message.id and stored["content"] == "public?"
    assert stored["flags"] == 64  # the deferral's ephemerality wins, as on Discord


async def test_channel_send_with_the_same_nonce_creates_one_message(
    fake_discord: FakeDiscord, bot: commands.Bot
):
    channel = await bot.fetch_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("hello", nonce=42)
    second = await channel.send("hello", nonce=42)
    assert first.id == second.id
    assert len(fake_discord.calls_to("POST", CHANNEL_POST)) == 2
    assert [m["content"] for m in fake_discord.messages_in(CHANNEL_ID)] == ["hello"]
    edited = await first.edit(content="bye")
    assert edited.content == "bye" and fake_discord.message(first.id)["content"] == "bye"  # type: ignore[index]


async def test_expired_interaction_token_raises_50027(fake_discord: FakeDiscord, bot: commands.Bot):
    async def body(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="too late")

    outcome = add_command(bot, "slow", body)
    fake_discord.expire_interaction_tokens()
    fake_discord.feed_interaction(bot, payloads.slash_command("slow"))
    with pytest.raises(app_commands.CommandInvokeError) as caught:
        await outcome.wait()
    error = caught.value.original
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)


async def test_missed_interaction_raises_10062(fake_discord: FakeDiscord, bot: commands.Bot):
    async def body(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("too late")

    outcome = add_command(bot, "late", body)
    fake_discord.refuse_interaction_callbacks()
    fake_discord.feed_interaction(bot, payloads.slash_command("late"))
    with pytest.raises(app_commands.CommandInvokeError) as caught:
        await outcome.wait()
    assert isinstance(caught.value.original, discord.NotFound)
    assert caught.value.original.code == 10062


async def test_rate_limit_with_via_is_retried(fake_discord: FakeDiscord, bot: commands.Bot):
    channel = await bot.fetch_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    fake_discord.rate_limit_next("POST", CHANNEL_POST, retry_after=0.05)
    message = await channel.send("after the wait")
    assert len(fake_discord.calls_to("POST", CHANNEL_POST)) == 2
    assert fake_discord.message(message.id) is not None

    body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
    fake_discord.fail_next("POST", CHANNEL_POST, 429, body)  # no Via: a Cloudflare ban
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("banned")
    assert caught.value.status == 429


async def test_denied_channel_and_deleted_message(fake_discord: FakeDiscord, bot: commands.Bot):
    channel = await bot.fetch_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("soon gone")
    await message.add_reaction("\N{THUMBS UP SIGN}")
    assert fake_discord.message(message.id)["reactions"][0]["me"]  # type: ignore[index]
    fake_discord.delete_message(message.id)
    with pytest.raises(discord.NotFound) as missing:
        await message.edit(content="x")
    assert missing.value.code == 10008
    fake_discord.deny_channel(CHANNEL_ID)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013


async def test_gateway_ready_guild_and_interaction(fake_discord: FakeDiscord):
    client = make_bot(guild_ready_timeout=0.05)
    seen = Outcome()
    watch_errors(client, seen)

    @client.tree.command(name="where", description="where")
    async def where(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("here")
        seen.finish(interaction.channel)

    runner = asyncio.create_task(client.start("fake-token"))
    try:
        await fake_discord.gateway.wait_ready(timeout=3)
        await asyncio.wait_for(client.wait_until_ready(), 3)
        guild = client.get_guild(GUILD_ID)
        assert isinstance(guild, discord.Guild) and not guild.unavailable
        channel = guild.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel) and guild.me is not None

        await fake_discord.gateway.dispatch("INTERACTION_CREATE", payloads.slash_command("where"))
        assert await seen.wait() is channel
        call = await fake_discord.wait_for(lambda c: c.path.endswith("/callback"), timeout=3)
        assert isinstance(call.json, dict) and call.json["type"] == 4
        [stored] = fake_discord.messages_in(CHANNEL_ID)
        assert stored["content"] == "here"
        assert stored["interaction_metadata"]["user"]["id"] == str(USER_ID)
        user_message = payloads.message(content="look", attachments=[payloads.attachment()])
        got_message = asyncio.ensure_future(client.wait_for("message", timeout=3))
        await fake_discord.gateway.dispatch("MESSAGE_CREATE", user_message)
        message = await got_message
        assert message.channel is channel and message.author.id == USER_ID
        assert fake_discord.message(message.id) is not None  # stored for REST calls
        got_reaction = asyncio.ensure_future(client.wait_for("raw_reaction_add", timeout=3))
        reaction = payloads.reaction_add(message.id, message_author_id=USER_ID)
        await fake_discord.gateway.dispatch("MESSAGE_REACTION_ADD", reaction)
        raw = await got_reaction
        assert raw.message_id == message.id and raw.member is not None
        assert str(raw.emoji) == "\N{THUMBS UP SIGN}"
        assert fake_discord.gateway.identify_count == 1
        identify = next(f for f in fake_discord.gateway.received if f["op"] == 2)
        assert identify["d"]["token"] == "<redacted>"
    finally:
        await client.close()
        await asyncio.wait_for(runner, 3)


async def test_builders_reach_views_modals_menus_and_autocomplete(
    fake_discord: FakeDiscord, bot: commands.Bot
):
    outcome = Outcome()
    watch_errors(bot, outcome)
    results: dict[str, Any] = {}

    class Ask(discord.ui.Modal, title="Ask"):
        answer: discord.ui.TextInput[Ask] = discord.ui.TextInput(label="Answer", custom_id="answer")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            results["modal"] = self.answer.value
            await interaction.response.send_message("thanks", ephemeral=True)

    class Buttons(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Go", custom_id="go")
        async def go(
            self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]
        ) -> None:
            results["button"] = interaction.message.id if interaction.message else None
            await interaction.response.edit_message(content="clicked")

    bot.add_view(Buttons())

    @bot.tree.command(name="ask", description="ask")
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Ask(custom_id="ask-modal"))

    @bot.tree.command(name="pick", description="pick")
    async def pick(interaction: discord.Interaction, item: str) -> None:
        await interaction.response.send_message(item)

    @pick.autocomplete("item")
    async def pick_items(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=current + "!", value=current)]

    @bot.tree.context_menu(name="Use video")
    async def use_video(interaction: discord.Interaction, message: discord.Message) -> None:
        results["menu"] = (message.id, message.attachments[0].filename)
        outcome.finish()
        await interaction.response.defer(ephemeral=True, thinking=True)

    clip = payloads.message(content="a video", attachments=[payloads.attachment(filename="c.mp4")])
    fake_discord.feed_interaction(bot, payloads.message_command("Use video", clip))
    await outcome.wait()
    assert results["menu"] == (int(clip["id"]), "c.mp4")

    fake_discord.feed_interaction(bot, payloads.autocomplete("pick", {"item": "so"}, "item"))
    auto = await fake_discord.wait_for(callback_of(8), 3)
    assert auto.json == {"type": 8, "data": {"choices": [{"name": "so!", "value": "so"}]}}

    fake_discord.feed_interaction(bot, payloads.slash_command("ask"))
    await fake_discord.wait_for(callback_of(9), 3)
    fake_discord.feed_interaction(bot, payloads.modal_submit("ask-modal", {"answer": "yes"}))
    await fake_discord.wait_for(callback_of(4), 3)
    assert results["modal"] == "yes"

    panel = payloads.message(author=payloads.bot_author(), content="panel", guild_id=None)
    fake_discord.add_message(panel)
    fake_discord.feed_interaction(bot, payloads.component_click("go", panel))
    await fake_discord.wait_for(callback_of(7), 3)
    assert results["button"] == int(panel["id"])
    assert fake_discord.message(int(panel["id"]))["content"] == "clicked"  # type: ignore[index]


async def test_media_route_serves_ranges_and_counts_bytes(
    fake_discord: FakeDiscord, tmp_path: Path
):
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 4)
    url = fake_discord.add_media("clip.mp4", path)
    att = fake_discord.media_attachment("clip.mp4")
    assert att["url"] == att["proxy_url"] == url and att["size"] == 1024
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Range": "bytes=10-19"}) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == "bytes 10-19/1024"
            assert response.headers["Accept-Ranges"] == "bytes"
            assert await response.read() == bytes(range(10, 20))
        async with http.get(url, headers={"Range": "bytes=-4"}) as response:
            assert response.status == 206 and await response.read() == bytes(range(252, 256))
        async with http.get(url) as response:
            assert response.status == 200 and len(await response.read()) == 1024
        async with http.get(url, headers={"Range": "bytes=5000-"}) as response:
            assert response.status == 416
    assert fake_discord.bytes_sent["clip.mp4"] == 10 + 4 + 1024


async def test_dm_slash_command_and_dm_channel(fake_discord: FakeDiscord, bot: commands.Bot):
    async def body(interaction: discord.Interaction) -> Any:
        await interaction.response.send_message("in a DM")
        return interaction.channel, interaction.user, interaction.guild

    outcome = add_command(bot, "hello", body)
    fake_discord.feed_interaction(bot, payloads.slash_command("hello", dm=True))
    channel, user, guild = await outcome.wait()
    assert isinstance(channel, discord.DMChannel) and channel.id == DM_CHANNEL_ID
    assert isinstance(user, discord.User) and user.id == USER_ID and guild is None
    [stored] = fake_discord.messages_in(DM_CHANNEL_ID)
    assert stored["content"] == "in a DM"

    other = await bot.fetch_user(OTHER_USER_ID)
    dm = await other.create_dm()
    assert dm.id == (await other.create_dm()).id
    sent = await dm.send("private")
    assert fake_discord.message(sent.id)["channel_id"] == str(dm.id)  # type: ignore[index]


def card_layout(*texts: str, thumbnail: str | None = None) -> discord.ui.LayoutView:
    """A V2 body: a container with a text display per text (a section with a thumbnail)."""
    view = discord.ui.LayoutView()
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container()
    if thumbnail is not None:
        container.add_item(discord.ui.Section("Hero", accessory=discord.ui.Thumbnail(thumbnail)))
    for text in texts:
        container.add_item(discord.ui.TextDisplay(text))
    view.add_item(container)
    return view


async def refused(attempt: Awaitable[Any]) -> discord.HTTPException:
    """The 400 Invalid Form Body an attempt ends in."""
    with pytest.raises(discord.HTTPException) as caught:
        await attempt
    assert (caught.value.status, caught.value.code) == (400, 50035), caught.value
    return caught.value


async def test_v2_messages_are_kept_as_sent_and_refused_as_discord_does(
    fake_discord: FakeDiscord, bot: commands.Bot
):
    channel = await bot.fetch_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    avatar = discord.File(io.BytesIO(b"\xff\xd8"), filename="avatar.jpg")
    sent = await channel.send(
        view=card_layout("Made", thumbnail="attachment://avatar.jpg"), file=avatar
    )
    stored = fake_discord.message(sent.id)
    assert stored is not None and stored["flags"] == 1 << 15 and sent.flags.components_v2
    [container] = stored["components"]
    assert container["components"][0]["accessory"]["media"]["url"] == "attachment://avatar.jpg"

    post = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL_ID)
    body = {"flags": 1 << 15, "components": [{"type": 10, "content": "x"}]}
    for extra in ({"content": "hi"}, {"embeds": [{"title": "old"}]}):
        await refused(bot.http.request(post, json={**body, **extra}))
    many = [{"type": 10, "content": str(n)} for n in range(40)]  # 41 with the container
    await refused(
        bot.http.request(post, json={**body, "components": [{"type": 17, "components": many}]})
    )
    for url in ("http://example.com/a.png", "attachment://elsewhere.jpg"):
        await refused(channel.send(view=card_layout(thumbnail=url)))
    assert [m["id"] for m in fake_discord.messages_in(CHANNEL_ID)] == [str(sent.id)]

    patch = discord.http.Route(
        "PATCH",
        "/channels/{channel_id}/messages/{message_id}",
        channel_id=CHANNEL_ID,
        message_id=sent.id,
    )
    await refused(bot.http.request(patch, json={"flags": 0, "components": []}))
    await refused(sent.edit(content="words"))
    old = await channel.send("made before V2", embed=discord.Embed(title="Old card"))
    await refused(old.edit(view=card_layout("now")))  # content and embeds would stay
    now = await old.edit(content=None, embeds=[], view=card_layout("now"))
    assert now.flags.components_v2 and not now.content and not now.embeds
    assert fake_discord.message(old.id)["components"][0]["components"][0]["content"] == "now"  # type: ignore[index]


async def test_faults_at_a_rate_are_retried_by_discord_py(
    fake_discord: FakeDiscord, bot: commands.Bot
):
    channel = await bot.fetch_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    fake_discord.fail_at_rate("POST", CHANNEL_POST, 1.0, 500, {"message": "oops", "code": 0})
    fake_discord.rate_limit_at_rate("POST", CHANNEL_POST, 1.0, retry_after=0.05)
    sending = asyncio.create_task(channel.send("through the storm"))
    await fake_discord.wait_for(lambda c: c.method == "POST" and c.path == CHANNEL_POST)
    [server_error, limited] = fake_discord.faults.rates
    server_error.rate = 0.0  # the 500 was answered; now only the 429s
    await fake_discord.wait_for(
        lambda c: len(fake_discord.calls_to("POST", CHANNEL_POST)) >= 3, timeout=15
    )
    limited.rate = 0.0
    message = await asyncio.wait_for(sending, timeout=15)
    assert fake_discord.faults.injected["POST 500"] == 1
    assert fake_discord.faults.injected["POST 429"] >= 2
    assert [m["content"] for m in fake_discord.messages_in(CHANNEL_ID)] == ["through the storm"]
    assert fake_discord.message(message.id) is not None


async def test_faults_at_a_rate_hit_about_that_share_and_repeat_with_a_seed(
    fake_discord: FakeDiscord,
):
    fake_discord.fail_at_rate("PATCH", r"/channels/\d+/messages/\d+", 0.25, 500, {"code": 0})
    path = f"{fake_discord.base_url}/channels/{CHANNEL_ID}/messages/1"
    runs = []
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            fake_discord.faults.random.seed(26)
            seen = []
            for _ in range(200):
                async with http.patch(path, json={"content": "x"}) as answer:
                    seen.append(answer.status)
            runs.append(seen)
        async with http.get(f"{fake_discord.base_url}/users/@me") as answer:
            assert answer.status == 200  # other routes are spared
    assert runs[0] == runs[1]
    assert 25 <= runs[0].count(500) <= 75  # about 50 of 200
    assert 500 in runs[0] and any(status != 500 for status in runs[0])
    with pytest.raises(ValueError, match="probability"):
        fake_discord.fail_at_rate("PATCH", ".*", 1.5, 500, {})
