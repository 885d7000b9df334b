"""Time, always injected: the responder never calls ``datetime.now()`` itself.

``serve`` passes :func:`system_clock`; the scenario runner passes its virtual
clock; tests pass a fixed or stepping one. OCSP times carry whole seconds
(RFC 5019 2.2.4 / RFC 6960 4.2.2.1 GeneralizedTime, no fractions), so
:func:`ocsp_time` truncates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

__all__ = ["Clock", "FixedClock", "ocsp_time", "system_clock"]

#: A callable returning the current time, timezone-aware (UTC).
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    """The real time, UTC."""
    return dt.datetime.now(dt.UTC)


def ocsp_time(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC without fractional seconds (GeneralizedTime as RFC 5280 4.1.2.5.2 wants)."""
    return when.astimezone(dt.UTC).replace(microsecond=0)


class FixedClock:
    """A clock that stands still until moved: for tests and virtual time."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, by: dt.timedelta) -> None:
        """Move forward by ``by``."""
        self.now += by
