"""Durations and offsets of scenario files: parsing, canonical form, round trips."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from responder.timespec import (
    DURATION_EXPECTED,
    MAX_DAYS,
    OFFSET_EXPECTED,
    TimeSpecError,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
)

MS = dt.timedelta(milliseconds=1)
# timedelta's own range, in whole milliseconds.
MAX_MS = dt.timedelta(days=MAX_DAYS) // MS  # the grammar's bound
MIN_MS = -MAX_MS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", dt.timedelta(0)),
        ("500ms", dt.timedelta(milliseconds=500)),
        ("30s", dt.timedelta(seconds=30)),
        ("5m", dt.timedelta(minutes=5)),
        ("2h", dt.timedelta(hours=2)),
        ("3d", dt.timedelta(days=3)),
        ("1d12h", dt.timedelta(days=1, hours=12)),
        ("5m30s", dt.timedelta(minutes=5, seconds=30)),
        ("1m1ms", dt.timedelta(minutes=1, milliseconds=1)),
        ("5ms", dt.timedelta(milliseconds=5)),
        ("90m", dt.timedelta(minutes=90)),
        ("1d2h3m4s5ms", dt.timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("0s", dt.timedelta(0)),
    ],
)
def test_parse_duration_accepts(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "-5s",  # negative
        "+5s",  # a duration has no sign
        "5",  # no unit
        "5x",  # unknown unit
        "5sec",
        "1h1h",  # repeated unit
        "1m1h",  # out of order
        "1s1m",
        "1h 2m",  # whitespace inside
        " 1h",
        "1h\n",
        "1.5s",  # fraction
        "1e3ms",
        "h",  # unit without a number
        "\u0661h",  # a non-ASCII digit
        "999999999999d",  # beyond timedelta
        "36526d",  # beyond a century: t0 + it would leave the dates a certificate can carry
        "3000000d",
        "9" * 5000 + "d",  # beyond Python's int conversion limit
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(TimeSpecError) as info:
        parse_duration(text)
    assert info.value.expected.startswith(DURATION_EXPECTED)
    assert info.value.found == text


def test_parse_duration_names_negative() -> None:
    with pytest.raises(ValueError, match="never negative"):
        parse_duration("-1d")


def test_parse_duration_rejects_non_string() -> None:
    with pytest.raises(TypeError):
        parse_duration(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", dt.timedelta(0)),
        ("+0", dt.timedelta(0)),
        ("-0", dt.timedelta(0)),
        ("-1d", dt.timedelta(days=-1)),
        ("+2h", dt.timedelta(hours=2)),
        ("+5h59m", dt.timedelta(hours=5, minutes=59)),
        ("+365d", dt.timedelta(days=365)),
        ("2h", dt.timedelta(hours=2)),  # unsigned: positive (documented extension)
        ("-500ms", dt.timedelta(milliseconds=-500)),
    ],
)
def test_parse_offset_accepts(text: str, expected: dt.timedelta) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize(
    "text", ["", "+", "-", "--1d", "+-1d", "+ 1d", "1d+", "yesterday", "-1.5h"]
)
def test_parse_offset_rejects(text: str) -> None:
    with pytest.raises(TimeSpecError) as info:
        parse_offset(text)
    assert info.value.expected == OFFSET_EXPECTED
    assert OFFSET_EXPECTED in str(info.value)


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (dt.timedelta(0), "0"),
        (dt.timedelta(days=1, hours=12), "1d12h"),
        (dt.timedelta(minutes=90), "1h30m"),
        (dt.timedelta(milliseconds=1500), "1s500ms"),
    ],
)
def test_format_duration_writes_canonical_text(td: dt.timedelta, text: str) -> None:
    assert format_duration(td) == text


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (dt.timedelta(0), "0"),
        (dt.timedelta(days=-1), "-1d"),
        (dt.timedelta(hours=5, minutes=59), "+5h59m"),
        (dt.timedelta(milliseconds=-1), "-1ms"),
    ],
)
def test_format_offset_writes_signed_text(td: dt.timedelta, text: str) -> None:
    assert format_offset(td) == text


@pytest.mark.parametrize("td", [dt.timedelta(microseconds=1), dt.timedelta(seconds=-1)])
def test_format_duration_rejects_unrepresentable(td: dt.timedelta) -> None:
    with pytest.raises(ValueError):
        format_duration(td)


def test_format_offset_rejects_sub_millisecond() -> None:
    with pytest.raises(ValueError, match="milliseconds"):
        format_offset(dt.timedelta(microseconds=-1500))


@given(st.integers(min_value=0, max_value=MAX_MS))
def test_duration_round_trips(millis: int) -> None:
    td = millis * MS
    assert parse_duration(format_duration(td)) == td


@given(st.integers(min_value=MIN_MS, max_value=MAX_MS))
def test_offset_round_trips(millis: int) -> None:
    td = millis * MS
    assert parse_offset(format_offset(td)) == td


@given(st.text(alphabet="0123456789dhms+- .", max_size=12))
def test_parse_offset_raises_only_timespec_errors(text: str) -> None:
    try:
        offset = parse_offset(text)
    except TimeSpecError:
        return
    # Whatever parses has a canonical form that parses back to the same offset.
    assert parse_offset(format_offset(offset)) == offset


def test_lab_timespec_is_the_responders_grammar() -> None:
    # One grammar: the loader's names are the very functions the admin API uses.
    import lab.timespec
    import responder.timespec

    for name in responder.timespec.__all__:
        assert getattr(lab.timespec, name) is getattr(responder.timespec, name), name
