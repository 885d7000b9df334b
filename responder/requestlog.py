"""The request log: who asked about which serial, what was answered, how fast.

One log line per request on the ``responder.requests`` logger, and the last
entries for the status page: a bounded ring in memory (scenario runs), or,
under ``serve``, the live-state database's table shared by every worker
(:class:`responder.store.RequestQueue` writes each process's entries there).
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from responder.store import LiveStore

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
    #: how the request's nonce came ("wrapped", "raw"; None: no nonce or unreadable)
    nonce: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        doc = asdict(self)
        doc["at"] = self.at.isoformat()
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RequestLogEntry:
        """The entry :meth:`to_json` wrote (read back from the shared table)."""
        return cls(
            at=dt.datetime.fromisoformat(doc["at"]),
            client=doc["client"],
            method=doc["method"],
            serials=tuple(doc["serials"]),
            names=tuple(doc["names"]),
            answer=doc["answer"],
            latency_ms=float(doc["latency_ms"]),
            cached=bool(doc["cached"]),
        )

    def line(self) -> str:
        """The one-line log form: client, method, serials, answer, latency.

        ``nonce=raw`` follows the answer when the nonce came raw (not an OCTET
        STRING): the usual form goes unsaid, the unusual one is what to look for.
        """
        serials = ",".join(self.serials) or "-"
        hit = " (pre-signed)" if self.cached else ""
        nonce = " nonce=raw" if self.nonce == "raw" else ""
        return (
            f"{self.client} {self.method} serials={serials} answer={self.answer}{hit}{nonce} "
            f"{self.latency_ms:.2f}ms"
        )


class RequestLog:
    """The last ``size`` requests of this process, newest last."""

    def __init__(self, size: int = 200, *, store: LiveStore | None = None) -> None:
        self._size = size
        # An entry, or what makes it: written out only when read or logged.
        self._entries: collections.deque[RequestLogEntry | Callable[[], RequestLogEntry]] = (
            collections.deque(maxlen=size)
        )
        self._lock = threading.Lock()
        self._shared = None
        if store is not None:
            from responder.store import RequestQueue

            self._shared = RequestQueue(store)
            self._store = store

    def add(self, entry: RequestLogEntry | Callable[[], RequestLogEntry]) -> None:
        """Remember ``entry`` (or what makes it) and write its log line."""
        if LOGGER.isEnabledFor(logging.INFO):
            entry = _made(entry)
            # The line for people; the record for --log-format json (responder.logs).
            LOGGER.info("%s", entry.line(), extra={"request": entry.to_json()})
        if self._shared is not None:
            made = entry
            self._shared.put(lambda: _made(made).to_json())
            return
        self._entries.append(entry)  # deque.append is atomic

    def entries(self) -> list[RequestLogEntry]:
        """The last entries (of every worker, when shared), oldest first."""
        if self._shared is not None:
            self._shared.flush()  # this worker's own requests are in the answer too
            return [
                RequestLogEntry.from_json(doc) for doc in self._store.recent_requests(self._size)
            ]
        with self._lock:
            kept = list(self._entries)
        return [_made(entry) for entry in kept]


def _made(entry: RequestLogEntry | Callable[[], RequestLogEntry]) -> RequestLogEntry:
    return entry if isinstance(entry, RequestLogEntry) else entry()
