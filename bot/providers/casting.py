"""Writing the chosen characters into a prompt the engine's way (issue 24). Pure: no I/O.

Where the prompt names a chosen character, by its display name (any case, whole words only)
or as `@username`, the name is rewritten for the engine: Sora `@username`; Seedance 2 "the
character from images 1-3", numbered in the order of `image_with_roles` (three per
character: the second is images 4-6); Vidu Q3 `@token`, a safe ASCII token from the name,
with the character's images as a subject of that name. A chosen character the prompt does
not name is added: in front as `@username` for Sora (as `with_mentions` always did), at the
end as ", with ..." for the others.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.providers.engines import VIDU_SUBJECT_IMAGES, Engine
from bot.providers.video import (
    REFERENCE_IMAGE,
    ImageRole,
    Subject,
    VideoMetadata,
    VideoRequest,
    with_mentions,
)

MAX_TOKEN = 32  # characters of a Vidu token
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9]+")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)$")
_FINAL_STOP = re.compile(r"[.!?…]+$")


@dataclass(frozen=True)
class Cast:
    """A chosen character and what each engine needs of it."""

    name: str
    username: str | None = None  # Sora
    asset_ids: Sequence[str] = ()  # Seedance 2 active assets
    image_urls: Sequence[str] = ()  # Vidu Q3: the stills' uploaded URLs


@dataclass(frozen=True)
class CastPrompt:
    """The prompt written for one engine, with the references that go with it."""

    engine: Engine
    prompt: str
    image_with_roles: tuple[ImageRole, ...] = ()
    subjects: tuple[Subject, ...] = ()
    # Characters with nothing this engine can use (no username, assets or images): left
    # as written, and to be bound before the request is sent.
    unbound: tuple[str, ...] = field(default=())

    def request(self, model: str, duration: int, aspect_ratio: str, **fields: Any) -> VideoRequest:
        """The video request for `model` (of this engine) with these references."""
        if self.engine is Engine.SEEDANCE and self.image_with_roles:
            fields.setdefault("image_with_roles", self.image_with_roles)
        if self.engine is Engine.VIDU and self.subjects:
            fields.setdefault("metadata", VideoMetadata(subjects=self.subjects))
        return VideoRequest(
            model=model, prompt=self.prompt, duration=duration, aspect_ratio=aspect_ratio, **fields
        )


def cast_prompt(engine: Engine, prompt: str, cast: Sequence[Cast]) -> CastPrompt:
    """The prompt with every chosen character written for `engine` (see the module)."""
    if engine is Engine.SORA:
        return _sora(prompt, cast)
    if engine is Engine.SEEDANCE:
        return _seedance(prompt, cast)
    return _vidu(prompt, cast)


def _sora(prompt: str, cast: Sequence[Cast]) -> CastPrompt:
    bound = [c for c in cast if c.username]
    words = [f"@{c.username}" for c in bound]
    text, _ = _rewrite(prompt, bound, words)
    usernames = [c.username for c in bound if c.username]
    unbound = tuple(c.name for c in cast if not c.username)
    return CastPrompt(Engine.SORA, with_mentions(text, usernames), unbound=unbound)


def _seedance(prompt: str, cast: Sequence[Cast]) -> CastPrompt:
    bound = [c for c in cast if c.asset_ids]
    roles: list[ImageRole] = []
    words: list[str] = []
    for character in bound:
        first = len(roles) + 1
        roles += [ImageRole(url=f"asset://{a}", role=REFERENCE_IMAGE) for a in character.asset_ids]
        last = len(roles)
        span = f"image {first}" if first == last else f"images {first}-{last}"
        words.append(f"the character from {span}")
    text, named = _rewrite(prompt, bound, words)
    text = _append(text, [w for w, was_named in zip(words, named, strict=True) if not was_named])
    unbound = tuple(c.name for c in cast if not c.asset_ids)
    return CastPrompt(Engine.SEEDANCE, text, image_with_roles=tuple(roles), unbound=unbound)


def _vidu(prompt: str, cast: Sequence[Cast]) -> CastPrompt:
    bound = [c for c in cast if c.image_urls]
    tokens = vidu_tokens([c.name for c in bound])
    words = [f"@{token}" for token in tokens]
    subjects = tuple(
        Subject(name=token, images=tuple(c.image_urls[:VIDU_SUBJECT_IMAGES]))
        for token, c in zip(tokens, bound, strict=True)
    )
    text, named = _rewrite(prompt, bound, words)
    text = _append(text, [w for w, was_named in zip(words, named, strict=True) if not was_named])
    unbound = tuple(c.name for c in cast if not c.image_urls)
    return CastPrompt(Engine.VIDU, text, subjects=subjects, unbound=unbound)


def vidu_tokens(names: Sequence[str]) -> list[str]:
    """A safe, distinct `@` token for each name: ASCII letters, digits and underscores
    (accents dropped), `char<N>` when nothing is left, `_2`, `_3` ... on a clash."""
    tokens: list[str] = []
    seen: set[str] = set()
    for number, name in enumerate(names, start=1):
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = _NOT_TOKEN.sub("_", ascii_name).strip("_")[:MAX_TOKEN].rstrip("_")
        base = base or f"char{number}"
        token, suffix = base, 1
        while token.casefold() in seen:
            suffix += 1
            token = f"{base}_{suffix}"
        seen.add(token.casefold())
        tokens.append(token)
    return tokens


def _rewrite(prompt: str, cast: Sequence[Cast], words: Sequence[str]) -> tuple[str, list[bool]]:
    """`prompt` with each mention of `cast[i]` replaced by `words[i]`; which were named."""
    named = [False] * len(cast)
    prompt = prompt.strip()
    pattern = _mention_pattern(cast)
    if pattern is None:
        return prompt, named

    def replace(match: re.Match[str]) -> str:
        index = int((match.lastgroup or "c0_0")[1:].split("_")[0])
        named[index] = True
        word = words[index]
        if _SENTENCE_START.search(match.string[: match.start()]):
            word = word[:1].upper() + word[1:]
        return word

    return pattern.sub(replace, prompt).strip(), named


def _mention_pattern(cast: Sequence[Cast]) -> re.Pattern[str] | None:
    """One pattern for every way the prompt may name a character, longest first (so "Sky
    Walker" wins over "Sky"); a group `c<index>_<n>` per alternative. A name is a whole
    word, with or without `@`: not inside another, nor part of a hyphenated one."""
    alternatives: list[tuple[int, str, str]] = []  # (length, group, regex)
    for index, character in enumerate(cast):
        words = character.name.split()
        if words:
            spaced = r"\s+".join(re.escape(word) for word in words)
            name = rf"(?<![\w@-])@?{spaced}(?![\w-])"
            alternatives.append((len(character.name) + 1, f"c{index}_0", name))
        if character.username:
            username = re.escape(character.username)
            alternatives.append(
                (
                    len(character.username) + 1,
                    f"c{index}_1",
                    rf"(?<![\w@])@{username}(?![\w]|\.\w)",
                )
            )
    if not alternatives:
        return None
    alternatives.sort(key=lambda item: -item[0])
    joined = "|".join(f"(?P<{group}>{regex})" for _, group, regex in alternatives)
    return re.compile(joined, re.IGNORECASE)


def _append(prompt: str, words: Sequence[str]) -> str:
    """`prompt` ending ", with A, B and C" (its final full stop kept after them)."""
    if not words:
        return prompt
    listed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
    stop = _FINAL_STOP.search(prompt)
    body, end = (prompt[: stop.start()], stop.group()) if stop else (prompt, "")
    body = body.rstrip(" ,;:")
    if not body:
        return f"{listed[:1].upper()}{listed[1:]}{end}"
    return f"{body}, with {listed}{end}"
