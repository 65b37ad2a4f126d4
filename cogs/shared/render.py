"""Message bodies and colours every cog's job messages share: `Rendered`, the progress
bar and a video job's fields. Pure functions of stored records."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import discord

from bot.domain.records import Job
from bot.i18n import translate
from bot.i18n.text import Text
from cogs.shared.layout import as_layout

BAR_CELLS = 12
COLOR_WORKING = discord.Colour.blurple()
COLOR_DONE = discord.Colour.green()
COLOR_FAILED = discord.Colour.red()
COLOR_WAITING = discord.Colour.orange()


@dataclass
class Rendered:
    """A message body: content, embeds and files (files are rebuilt on every send).

    With embeds it is sent in Components V2 (`layout`): the embeds are its model, so the
    words stay the same in either form and `key` tells both apart alike."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    avatar: tuple[str, bytes | Path] | None = None  # a file's name, and bytes or its path
    view: discord.ui.View | None = None

    def files(self) -> list[discord.File]:
        """Fresh `discord.File` objects (a File can be sent only once)."""
        if self.avatar is None:
            return []
        name, data = self.avatar
        if isinstance(data, Path):  # a large file, read as it is sent
            return [discord.File(data, filename=name)]
        return [discord.File(io.BytesIO(data), filename=name)]

    def layout(self) -> discord.ui.LayoutView | None:
        """The V2 form (None for a plain message: no embeds, e.g. a ping)."""
        if not self.embeds:
            return None
        names = [self.avatar[0]] if self.avatar else []
        return as_layout(self.content, self.embeds, self.view, names)

    def body(self, *, edit: bool = False, v2: bool = True) -> dict[str, Any]:
        """Keyword arguments of a send (or an edit, which clears what V2 forbids) without
        files: the V2 `view` alone, or (no embeds, or `v2` False for a message sent before
        V2) `content`, `embeds` and `view`."""
        layout = self.layout() if v2 else None
        if layout is None:
            plain: dict[str, Any] = {"embeds": self.embeds}
            if self.content is not None or not edit:
                plain["content"] = self.content
            if self.view is not None or edit:
                plain["view"] = self.view
            return plain
        if edit:  # an embed message turned V2: Discord wants content and embeds cleared
            return {"content": None, "embeds": [], "view": layout}
        return {"view": layout}

    def key(self) -> tuple[object, ...]:
        """What a user can see; equal keys mean an edit would change nothing."""
        return (
            self.content,
            tuple(repr(e.to_dict()) for e in self.embeds),
            self.avatar[0] if self.avatar else None,
            _file_key(self.avatar[1]) if self.avatar else 0,
            tuple(i.custom_id for i in self.view.children if hasattr(i, "custom_id"))
            if self.view
            else (),
        )


def _file_key(data: bytes | Path) -> object:
    """Tells files apart without reading them (a downloaded file has a name of its own)."""
    return data if isinstance(data, Path) else len(data)


def progress_bar(percent: int) -> str:
    """`▰▰▰▱▱▱` style bar with the percentage."""
    percent = max(0, min(100, percent))
    filled = round(percent / 100 * BAR_CELLS)
    return f"{'▰' * filled}{'▱' * (BAR_CELLS - filled)} {percent}%"


class Speaker(Protocol):
    """`msgid` in one language, placeholders filled."""

    def __call__(self, msgid: str, /, **params: object) -> str: ...


def job_locale(job: Job | None) -> str | None:
    """The language a job's messages speak: the asker's, kept with the job when it was
    made (else the server's; a job from before languages: English)."""
    if job is None:
        return None
    found = job.meta.get("locale") or job.meta.get("guild_locale")
    return str(found) if found else None


def speaker(locale: str | None) -> Speaker:
    """`t(msgid, **params)` in `locale`."""

    def t(msgid: str, /, **params: object) -> str:
        return translate(locale, msgid, **params)

    return t


def video_fields(embed: discord.Embed, job: Job) -> discord.Embed:
    """Prompt, characters, model, duration and who asked, for a video job."""
    t = speaker(job_locale(job))
    prompt = str(job.request.get("prompt") or job.source_ref)
    embed.add_field(name=t("Prompt"), value=clean(prompt, 1000) or "-", inline=False)
    names = job.meta.get("characters") or []
    cast = job.meta.get("cast") or []
    if names or cast:
        value = ", ".join(f"`@{name}`" for name in names) or ", ".join(
            clean(str(name), 100) for name in cast
        )
        embed.add_field(name=t("Characters"), value=value[:1000], inline=False)
    kept = Text.from_json(job.meta.get("model_note_text"))
    note = kept.render(job_locale(job)) if kept is not None else job.meta.get("model_note")
    if note:
        embed.add_field(name=t("Model note"), value=clean(str(note), 300), inline=False)
    embed.add_field(name=t("Model"), value=job.model, inline=True)
    duration = job.request.get("duration") or int(job.range_end)
    ratio = job.request.get("aspect_ratio", "16:9")
    embed.add_field(
        name=t("Duration"),
        value=t("{seconds} s, {ratio}", seconds=duration, ratio=ratio),
        inline=True,
    )
    asked = f"<@{job.requester_id}>" if job.requester_id else t("unknown")
    embed.add_field(name=t("Requested by"), value=asked, inline=True)
    return embed


def clean(text: str, limit: int) -> str:
    """`text` with mentions and markdown escaped, cut to `limit` characters."""
    text = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"
