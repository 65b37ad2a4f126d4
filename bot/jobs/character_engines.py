"""Which engines a new character is bound to, and which it works with now: one answer
for every front (the card in Discord, the command line)."""

from __future__ import annotations

from collections.abc import Callable

from bot.domain.records import BindingState, Character
from bot.jobs.binding import ENGINE_ORDER, LABELS, SORA

# (engine label, what it is there, why it does not work: None when it does)
EngineState = tuple[str, str, str | None]


def server_engines(allowed: tuple[str, ...], chosen: tuple[str, ...]) -> tuple[str, ...]:
    """The engines a server's new characters are bound to: those it chose (none: all)
    among the bot's own (CHARACTER_ENGINES)."""
    return tuple(e for e in allowed if not chosen or e in chosen) or allowed


def engine_states(
    character: Character, *, mention: Callable[[str], str] = lambda name: f"@{name}"
) -> list[EngineState]:
    """Each engine the character knows, in engine order (`mention` writes Sora's
    username the front's way)."""
    states: list[EngineState] = []
    for engine in ENGINE_ORDER:
        binding = character.binding(engine)
        if engine == SORA and character.username:
            states.append((LABELS[engine], mention(character.username), None))
        elif binding is None:
            continue
        elif binding.state is BindingState.READY:
            states.append((LABELS[engine], "ready", None))
        elif binding.state is BindingState.PREPARING:
            states.append((LABELS[engine], "preparing", None))
        else:
            states.append((LABELS[engine], "not available", binding.reason or "refused"))
    return states


def engine_lines(character: Character) -> list[str]:
    """`Sora 2 @user.abc · Seedance 2 ready · Vidu Q3 preparing`, then why one does not
    work, one engine per line (plain text)."""
    states = engine_states(character)
    working = [f"{label} {what}" for label, what, why in states if why is None]
    refused = [f"{label}: {why}" for label, _what, why in states if why is not None]
    return [" · ".join(working) if working else "none yet", *refused]
