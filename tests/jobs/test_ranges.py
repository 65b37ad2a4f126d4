"""Range parsing and the `timestamps` field: what users type and what toapis receives."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.ranges import ClipRange, RangeError, format_clock, format_timestamps, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12", 12.0),
        ("1.5", 1.5),
        ("1,5", 1.5),
        ("0:12", 12.0),
        ("1:05", 65.0),
        ("1:02:03.5", 3723.5),
        (" 3 ", 3.0),
        (7, 7.0),
        (2.25, 2.25),
    ],
)
def test_parse_seconds_accepts_what_people_type(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "-1",
        "1:60",
        "nan",
        "inf",
        "1e9",
        "1:2:3:4",
        "１",
        "0x10",
        True,
        float("nan"),
        float("inf"),
        -3.0,
        10**9,
    ],
)
def test_parse_seconds_rejects_garbage_with_a_message(text):
    with pytest.raises(RangeError) as info:
        parse_seconds(text, name="start")
    assert "`start`" in str(info.value)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [("1", "3", "1,3"), ("1.5", "3", "1.5,3"), ("0", "1", "0,1"), ("1:00", "1:02.5", "60,62.5")],
)
def test_timestamps_have_no_trailing_zeros(start, end, expected):
    assert ClipRange.parse(start, end).timestamps() == expected


@pytest.mark.parametrize(
    ("start", "end", "needle"),
    [
        ("3", "1", "after"),
        ("1", "1", "after"),
        ("1", "1.5", "at least 1"),
        ("1", "4.5", "at most 3"),
        ("0", "3.001", "at most 3"),
    ],
)
def test_span_rules_are_explained(start, end, needle):
    with pytest.raises(RangeError, match=needle):
        ClipRange.parse(start, end)


def test_human_clock_format():
    assert format_clock(3) == "0:03"
    assert format_clock(75.5) == "1:15.5"
    assert format_clock(3723) == "1:02:03"
    assert str(ClipRange.parse("61", "63")) == "1:01–1:03"
    assert format_timestamps(1.0, 3.0) == "1,3"


@given(
    st.one_of(st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True)),
    st.one_of(st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_range_parser_never_crashes_and_never_lets_a_bad_span_through(start, end):
    try:
        clip = ClipRange.parse(start, end)
    except RangeError:
        return
    assert math.isfinite(clip.start) and math.isfinite(clip.end)
    assert 0 <= clip.start < clip.end
    assert 1 <= clip.span <= 3
