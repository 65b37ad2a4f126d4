"""Clip ranges: parsing what users type, checking the 1-3 s rule, formatting `timestamps`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.i18n.text import Text, TextError

# A character is made from 1 to 3 seconds of video (toapis' `timestamps` rule).
MIN_SPAN_SECONDS = 1.0
MAX_SPAN_SECONDS = 3.0
# Longest source position we accept at all (24 h); anything beyond is a typo or an attack.
MAX_POSITION_SECONDS = 24 * 3600.0
_CLOCK = re.compile(r"^(?:(\d{1,2}):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$", re.ASCII)
_PLAIN = re.compile(r"^\d{1,6}(?:\.\d+)?$", re.ASCII)


class RangeError(TextError):
    """A range a user gave that cannot be used; its `text` is shown to them."""


def parse_seconds(text: str | float | int, *, name: str = "time") -> float:
    """Parse `12`, `1.5`, `0:12` or `1:02:03.5` into seconds; reject anything else."""
    if isinstance(text, bool):
        raise RangeError(
            Text("`{name}` must be a number of seconds such as 1.5, or m:ss.", name=name)
        )
    if isinstance(text, int | float):
        value = float(text)
    else:
        raw = text.strip().replace(",", ".") if text.count(",") == 1 and ":" not in text else text
        raw = raw.strip()
        if _PLAIN.match(raw):
            value = float(raw)
        elif match := _CLOCK.match(raw):
            hours, minutes, seconds = match.groups()
            if float(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
                raise RangeError(
                    Text("`{name}` is not a valid time: `{value}`.", name=name, value=_shorten(raw))
                )
            value = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        else:
            raise RangeError(
                Text(
                    "`{name}` must be seconds (like `1.5`) or minutes:seconds (like `1:05`), "
                    "not `{value}`.",
                    name=name,
                    value=_shorten(raw),
                )
            )
    if not math.isfinite(value) or value < 0:
        raise RangeError(Text("`{name}` must be zero or a positive number of seconds.", name=name))
    if value > MAX_POSITION_SECONDS:
        raise RangeError(
            Text("`{name}` is too far into the video (the limit is 24 hours).", name=name)
        )
    return round(value, 3)


@dataclass(frozen=True, slots=True)
class ClipRange:
    """A checked range of 1 to 3 seconds within a video."""

    start: float
    end: float

    @property
    def span(self) -> float:
        """Length of the range in seconds."""
        return round(self.end - self.start, 3)

    @classmethod
    def parse(cls, start: str | float, end: str | float) -> ClipRange:
        """Build a range from user input, raising `RangeError` with a friendly message."""
        first = parse_seconds(start, name="start")
        last = parse_seconds(end, name="end")
        if last <= first:
            raise RangeError(Text("`end` must be after `start`."))
        span = round(last - first, 3)
        if span < MIN_SPAN_SECONDS:
            raise RangeError(
                Text(
                    "The range is {span} s long; it must be at least {limit} s.",
                    span=format_seconds(span),
                    limit=format_seconds(MIN_SPAN_SECONDS),
                )
            )
        if span > MAX_SPAN_SECONDS:
            raise RangeError(
                Text(
                    "The range is {span} s long; it can be at most {limit} s.",
                    span=format_seconds(span),
                    limit=format_seconds(MAX_SPAN_SECONDS),
                )
            )
        return cls(first, last)

    def timestamps(self) -> str:
        """The `timestamps` field toapis expects."""
        return format_timestamps(self.start, self.end)

    def __str__(self) -> str:
        return f"{format_clock(self.start)}–{format_clock(self.end)}"


def format_seconds(value: float) -> str:
    """Seconds without trailing zeros: 1.0 -> "1", 1.50 -> "1.5"."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def format_timestamps(start: float, end: float) -> str:
    """`"start,end"` without trailing zeros ("1,3", "1.5,3").

    Whether toapis accepts decimals is unconfirmed: this is the one place that decides.
    """
    return f"{format_seconds(start)},{format_seconds(end)}"


def format_clock(value: float) -> str:
    """A position for humans: 75.5 -> "1:15.5", 3 -> "0:03"."""
    minutes, seconds = divmod(value, 60)
    hours, minutes = divmod(int(minutes), 60)
    whole = int(seconds)
    fraction = format_seconds(seconds - whole)[1:] if seconds != whole else ""
    body = f"{minutes:d}:{whole:02d}{fraction}"
    return f"{hours:d}:{minutes:02d}:{whole:02d}{fraction}" if hours else body


def _shorten(text: str, limit: int = 30) -> str:
    cleaned = text.replace("`", "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
