"""The request log: who asked about which serial, what was answered, how fast.

A bounded ring per process (the status page shows the last ones) and one
log line per request on the ``responder.requests`` logger.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RequestLog", "RequestLogEntry"]

LOGGER = logging.getLogger("responder.requests")


@dataclass(frozen=True)
class RequestLogEntry:
    """One OCSP request as the status page shows it."""

    at: dt.datetime  # the responder's clock (virtual in scenario runs)
    client: str
    method: str
    serials: tuple[str, ...]  # upper-case hex
    names: tuple[str | None, ...]  # the lab certificate names, when known
    answer: str  # good,revoked / malformedRequest / http-500 / ...
    latency_ms: float
    cached: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        doc = asdict(self)
        doc["at"] = self.at.isoformat()
        return doc

    def line(self) -> str:
        """The one-line log form: client, method, serials, answer, latency."""
        serials = ",".join(self.serials) or "-"
        hit = " (pre-signed)" if self.cached else ""
        return (
            f"{self.client} {self.method} serials={serials} answer={self.answer}{hit} "
            f"{self.latency_ms:.2f}ms"
        )


class RequestLog:
    """The last ``size`` requests of this process, newest last."""

    def __init__(self, size: int = 200) -> None:
        # An entry, or what makes it: written out only when read or logged.
        self._entries: collections.deque[RequestLogEntry | Callable[[], RequestLogEntry]] = (
            collections.deque(maxlen=size)
        )
        self._lock = threading.Lock()

    def add(self, entry: RequestLogEntry | Callable[[], RequestLogEntry]) -> None:
        """Remember ``entry`` (or what makes it) and write its log line."""
        if LOGGER.isEnabledFor(logging.INFO):
            entry = _made(entry)
            # The line for people; the record for --log-format json (responder.logs).
            LOGGER.info("%s", entry.line(), extra={"request": entry.to_json()})
        self._entries.append(entry)  # deque.append is atomic

    def entries(self) -> list[RequestLogEntry]:
        """A copy, oldest first."""
        with self._lock:
            kept = list(self._entries)
        return [_made(entry) for entry in kept]


def _made(entry: RequestLogEntry | Callable[[], RequestLogEntry]) -> RequestLogEntry:
    return entry if isinstance(entry, RequestLogEntry) else entry()
