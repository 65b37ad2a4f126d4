"""Models the service refused recently: said plainly, logged once, remembered a while.

During 2026 the Sora 2 API was retired at OpenAI and at several resellers, so a model can
vanish at any time. When the service answers "unsupported model", "model not found",
"temporarily paused" and the like, the model is remembered as unavailable for
`ttl` seconds: the next member asking for it is told at once, before anything is sent.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from bot.providers.base import ModelUnavailableError, ProviderError

log = logging.getLogger(__name__)

DEFAULT_TTL = 600.0  # ten minutes

# What services say when a model is gone or paused (the wording is not in the contract).
_MODEL_GONE = re.compile(
    r"model_not_found|model[_ ]not[_ ](?:found|supported|available)|unsupported[_ ]model"
    r"|(?:unknown|invalid|unsupported|unavailable|deprecated|retired)\s+model"
    r"|model\b.{0,60}\b(?:not (?:found|exist|supported|available)|does not exist|unavailable"
    r"|is not available|(?:temporarily )?paused|retired|deprecated|disabled|suspended"
    r"|no longer (?:available|supported))"
    r"|(?:temporarily )?paused",
    re.IGNORECASE,
)


def says_model_is_gone(error: ProviderError) -> bool:
    """Whether a refusal of a create request is about the model itself."""
    return error.status in (400, 403, 404, 410, 422, 503) and bool(
        _MODEL_GONE.search(error.detail or "")
    )


class ModelAvailability:
    """Which models the service refused in the last `ttl` seconds."""

    def __init__(self, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time):
        self.ttl = ttl
        self._clock = clock
        self._gone: dict[str, tuple[float, str]] = {}  # model -> (since, the service's words)

    def refuse(self, model: str, detail: str) -> ModelUnavailableError:
        """Remember `model` as unavailable; log once per spell for the owner."""
        if self.unavailable(model) is None:
            log.warning(
                "toapis says model %s is not available (%s); members asking for it are "
                "told so for the next %d minutes",
                model,
                detail[:200] or "no reason given",
                round(self.ttl / 60),
            )
        self._gone[model] = (self._clock(), detail)
        return ModelUnavailableError(model, detail)

    def unavailable(self, model: str) -> ModelUnavailableError | None:
        """The error to give at once, if `model` was refused within `ttl` seconds."""
        found = self._gone.get(model)
        if found is None:
            return None
        since, detail = found
        if self._clock() - since > self.ttl:
            del self._gone[model]
            return None
        return ModelUnavailableError(model, detail)

    def refused(self) -> list[str]:
        """Models currently remembered as unavailable."""
        return [model for model in list(self._gone) if self.unavailable(model) is not None]
