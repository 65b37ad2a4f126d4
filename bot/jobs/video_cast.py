"""A video's cast on the chosen engine: which model is live, and what each chosen character
brings to it (Sora's `@username`, Seedance's active assets, Vidu's uploaded stills).

Everything here is checked before any call: a character that does not work on the engine
is refused with the reason (and, where its likeness is kept, the binding is started so
the next try works). Bindings in place are reused as they are: nothing is uploaded again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain.records import BindingState, Character
from bot.i18n.text import Text
from bot.jobs.binding import reason_text
from bot.providers.casting import Cast, CastPrompt, cast_prompt
from bot.providers.engines import VIDEO_MODELS_OF, Engine, engine_of
from bot.providers.models import ModelAvailability
from bot.providers.video import VideoRequest


def cast_of(character: Character) -> Cast:
    """What `character` brings to each engine (only what is ready)."""
    seedance = character.binding(Engine.SEEDANCE.value)
    vidu = character.binding(Engine.VIDU.value)
    assets: Sequence[str] = ()
    if seedance is not None and seedance.state is BindingState.READY:
        assets = tuple(str(a) for a in seedance.data.get("asset_ids") or ())
    images: Sequence[str] = ()
    if vidu is not None and vidu.state is BindingState.READY:
        images = character.still_urls
    return Cast(
        name=character.display_name,
        username=character.username or None,
        asset_ids=assets,
        image_urls=images,
    )


def works_on(character: Character, engine: Engine) -> bool:
    """Whether `character` can be put in a video on `engine` as it is."""
    cast = cast_of(character)
    return {
        Engine.SORA: bool(cast.username),
        Engine.SEEDANCE: bool(cast.asset_ids),
        Engine.VIDU: bool(cast.image_urls),
    }[engine]


def unbound_reason(character: Character, engine: Engine) -> tuple[Text, bool]:
    """Why `character` does not work on `engine` yet, and whether binding it now would
    help (its likeness is kept and the engine has not refused it)."""
    name = character.display_name
    if engine is Engine.SORA:
        return Text("{name} has no Sora 2 username: pick another model.", name=name), False
    binding = character.binding(engine.value)
    if binding is not None and binding.state is BindingState.REFUSED:
        reason = reason_text(binding.reason)
        text = Text(
            "{engine} does not take {name}: {reason}.",
            engine=engine.label,
            name=name,
            reason=reason,
        )
        return text, False
    if binding is not None and binding.state is BindingState.PREPARING and "job" in binding.data:
        text = Text(
            "{name} is still being prepared for {engine}: try again in a minute.",
            name=name,
            engine=engine.label,
        )
        return text, False
    if character.likeness is None:
        text = Text(
            "{name} has no likeness kept (made before the bot kept one), so it works on "
            'Sora 2 only: use its card\'s "Add the likeness" first.',
            name=name,
        )
        return text, False
    text = Text(
        "{name} is being prepared for {engine} now (its kept stills are uploaded "
        "once): try again in a minute.",
        name=name,
        engine=engine.label,
    )
    return text, True


@dataclass(frozen=True, slots=True)
class LiveModel:
    """The model to use, and what to tell the member when it is not the one asked for."""

    model: str
    note: Text | None = None


def live_model(models: ModelAvailability, wanted: str, *, chosen: bool) -> LiveModel | Text:
    """`wanted` when the service still offers it; when it is the server's default (not
    the member's choice) and gone, the first live engine's model, said plainly."""
    gone = models.unavailable(wanted)
    if gone is None:
        return LiveModel(wanted)
    if chosen:
        return gone.user_text
    for engine in Engine:
        if engine is engine_of(wanted):
            continue  # a model gone says its engine is going: another engine is asked
        for model in VIDEO_MODELS_OF[engine]:
            if models.unavailable(model) is None:
                note = Text(
                    "{wanted} is not offered any more, so this video uses {model}.",
                    wanted=wanted,
                    model=model,
                )
                return LiveModel(model, note)
    return gone.user_text


def business_id() -> str:
    """A random id for a Seedance request, stored with the job before it is sent: after a
    crash the task is found by it (not the job id: installations may share an account)."""
    return f"scb-{uuid.uuid4().hex}"


def video_request(
    model: str, prompt: str, cast: Sequence[Cast], duration: int, aspect_ratio: str
) -> tuple[VideoRequest, CastPrompt]:
    """The request for `model` with each character written the engine's way."""
    engine = engine_of(model) or Engine.SORA
    written = cast_prompt(engine, prompt, cast)
    extra = {"client_business_id": business_id()} if engine is Engine.SEEDANCE else {}
    return written.request(model, duration, aspect_ratio, **extra), written
