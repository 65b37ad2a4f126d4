"""What the owner is shown about the one toapis account: its credit and the models gone.

Read on demand (`/owner status`); a balance that cannot be read is said in words, never
raised.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.providers.base import ProviderError
from bot.providers.interface import CharacterProvider

log = logging.getLogger(__name__)

READ_WITHIN = 20.0  # seconds the balance may take before the owner is told it could not


@dataclass(frozen=True, slots=True)
class GoneModel:
    """A model the service said is gone (remembered a while), with its own words."""

    model: str
    said: str


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """The credit in words ("1,234 credits (about $6.17)", "unlimited", or why it could
    not be read), whether there is any, and the models the service said are gone."""

    credit: str
    has_credit: bool | None  # None: the balance could not be read
    gone: tuple[GoneModel, ...]


async def account_status(
    provider: CharacterProvider, *, within: float = READ_WITHIN
) -> AccountStatus:
    """Read the balance (spends nothing) and list the models refused recently."""
    models = provider.models
    gone = []
    for model in models.refused():
        refusal = models.unavailable(model)
        if refusal is not None:
            gone.append(GoneModel(model, (refusal.detail or "no reason given")[:150]))
    try:
        balance = await asyncio.wait_for(provider.get_balance(), within)
    except TimeoutError:
        why = f"no answer within {within:g} s"
    except ProviderError as exc:
        why = (exc.detail or type(exc).__name__)[:150]
    except Exception as exc:  # the owner is told, whatever went wrong
        log.warning("reading the toapis balance failed", exc_info=True)
        why = type(exc).__name__
    else:
        return AccountStatus(balance.credit_text(), balance.has_credit, tuple(gone))
    return AccountStatus(f"could not read the balance ({why})", None, tuple(gone))
