"""Durations and points in time, as scenario files write them (SCENARIOS.md "Time").

The one grammar of the project: the scenario loader (through
:mod:`lab.timespec`), the admin API and the state file all read and write
durations with it (docs/scenario-format-extensions.md "Durations and offsets").

A duration is a sequence of ``<digits><unit>`` parts with the units in
descending order, each at most once: ``500ms``, ``30s``, ``5m``, ``2h``,
``3d``, ``1d12h``, ``5m30s``; or ``0``. A point in time is an offset from
the scenario's start, t0: ``0``, ``-1d``, ``+2h``, ``+5h59m``. An offset
without a sign (``2h``) is read as positive, like ``+2h``: it cannot mean
anything else, and people write it (see ``docs/scenario-format-extensions.md``).

:func:`format_duration` and :func:`format_offset` write the canonical form
back; for any whole number of milliseconds, ``parse_*(format_*(x)) == x``.
"""

from __future__ import annotations

import datetime as dt
import re

__all__ = [
    "DURATION_EXPECTED",
    "OFFSET_EXPECTED",
    "POSITIVE_DURATION_EXPECTED",
    "TimeSpecError",
    "format_duration",
    "format_offset",
    "parse_duration",
    "parse_offset",
]

#: What a duration looks like, for error messages.
DURATION_EXPECTED = 'a duration like "30s", "5m", "1d12h", "500ms" or "0"'
#: What a duration that must not be zero (an interval, a timeout) looks like.
POSITIVE_DURATION_EXPECTED = 'a duration more than 0, like "30s", "5m", "1d12h" or "500ms"'
#: What an offset looks like, for error messages.
OFFSET_EXPECTED = 'an offset from t0 like "0", "-1d", "+2h", "+5h59m"'
#: The longest duration or offset: a century either side of t0 keeps every
#: instant a scenario can name inside the dates a certificate can carry.
MAX_DAYS = 36_525
_TOO_LONG = f" (at most {MAX_DAYS}d, 100 years)"

# Units in the only order they may appear, with their length in milliseconds.
_UNITS: tuple[tuple[str, int], ...] = (
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)

# One optional group per unit, in descending order: a repeated or out-of-order
# unit cannot match. `m(?!s)` keeps "5ms" from being read as "5m" + "s".
# ASCII digits only: `\d` would also accept other scripts' digits.
_DURATION = re.compile(
    r"(?:(?P<d>[0-9]+)d)?"
    r"(?:(?P<h>[0-9]+)h)?"
    r"(?:(?P<m>[0-9]+)m(?!s))?"
    r"(?:(?P<s>[0-9]+)s)?"
    r"(?:(?P<ms>[0-9]+)ms)?"
)


class TimeSpecError(ValueError):
    """A duration or offset that does not follow SCENARIOS.md.

    ``expected`` says what would have been accepted (the scenario loader puts
    it in its ``ScenarioError``, the admin API in its 400 answer); ``found`` is the
    text.
    """

    def __init__(self, expected: str, found: object) -> None:
        self.expected = expected
        self.found = found
        super().__init__(f"expected {expected}, found {found!r}")


def parse_duration(text: str) -> dt.timedelta:
    """A non-negative duration: ``"1d12h"`` → 36 hours.

    Raises :class:`TimeSpecError` (a ``ValueError``) for anything else: empty
    text, a sign, whitespace, a fraction, an unknown, repeated or out-of-order
    unit, or a duration too long for :class:`datetime.timedelta`.
    """
    if not isinstance(text, str):
        raise TypeError(f"a duration must be a str, not {type(text).__name__}")
    if text == "0":
        return dt.timedelta(0)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        if text.startswith("-"):
            raise TimeSpecError(f"{DURATION_EXPECTED} (a duration is never negative)", text)
        raise TimeSpecError(DURATION_EXPECTED, text)
    try:
        millis = sum(int(match[unit] or 0) * length for unit, length in _UNITS)
        if millis > MAX_DAYS * 86_400_000:
            raise OverflowError(text)
        return dt.timedelta(milliseconds=millis)
    except (OverflowError, ValueError):
        # ValueError: Python refuses to convert integers of thousands of digits.
        raise TimeSpecError(DURATION_EXPECTED + _TOO_LONG, text) from None


def parse_offset(text: str) -> dt.timedelta:
    """A point in time relative to t0: ``"-1d"``, ``"+2h"``, ``"0"``; ``"2h"`` means ``"+2h"``."""
    if not isinstance(text, str):
        raise TypeError(f"an offset must be a str, not {type(text).__name__}")
    sign, body = (text[0], text[1:]) if text[:1] in ("+", "-") else ("+", text)
    try:
        magnitude = parse_duration(body)
    except TimeSpecError as exc:
        # Say what an offset looks like, keeping only the too-long hint.
        detail = _TOO_LONG if exc.expected.endswith(_TOO_LONG) else ""
        raise TimeSpecError(OFFSET_EXPECTED + detail, text) from None
    return -magnitude if sign == "-" else magnitude


def _whole_millis(td: dt.timedelta) -> int:
    if td.microseconds % 1000:
        raise ValueError(f"{td!r} is not a whole number of milliseconds")
    return (td.days * 86_400 + td.seconds) * 1000 + td.microseconds // 1000


def format_duration(td: dt.timedelta) -> str:
    """The canonical text of a non-negative duration: 36 hours → ``"1d12h"``, 0 → ``"0"``."""
    millis = _whole_millis(td)
    if millis < 0:
        raise ValueError(f"a duration is never negative, found {td!r}")
    if millis == 0:
        return "0"
    parts: list[str] = []
    for unit, length in _UNITS:
        count, millis = divmod(millis, length)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_offset(td: dt.timedelta) -> str:
    """The canonical text of an offset from t0: ``"0"``, ``"+2h"``, ``"-1d"``."""
    millis = _whole_millis(td)
    if millis == 0:
        return "0"
    if millis < 0:
        return "-" + format_duration(-td)
    return "+" + format_duration(td)
