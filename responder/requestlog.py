"""The request log: who asked about which serial, what was answered, how fast.

One log line per request on the ``responder.requests`` logger, and the last
entries for the status page: a bounded ring in memory (scenario runs), or,
under ``serve``, the live-state database's table shared by every worker
(:class:`responder.store.RequestQueue` writes each process's entries there).
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from responder.store import LiveStore

__all__ = ["MAX_KEPT_BYTES", "RequestLog", "RequestLogEntry", "kept_bytes"]

LOGGER = logging.getLogger("responder.requests")
#: Request and response bytes are kept for the status page (the validator is run
#: on them there) only up to this size each: the log stays a bounded view.
MAX_KEPT_BYTES = 8192


def kept_bytes(data: bytes) -> bytes | None:
    """``data`` if the log may keep it (at most :data:`MAX_KEPT_BYTES`), else None."""
    return data if 0 < len(data) <= MAX_KEPT_BYTES else None


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


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
    #: the DER asked and answered, when small enough (:func:`kept_bytes`)
    request_der: bytes | None = None
    response_der: bytes | None = None

    def to_json(self, *, with_bytes: bool = True) -> dict[str, Any]:
        """JSON-ready form (the bytes in base64; left out for a log line)."""
        doc = asdict(self)
        doc["at"] = self.at.isoformat()
        if with_bytes:
            doc["request_der"] = _b64(self.request_der)
            doc["response_der"] = _b64(self.response_der)
        else:
            del doc["request_der"], doc["response_der"]
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
            nonce=doc.get("nonce"),
            request_der=_unb64(doc.get("request_der")),
            response_der=_unb64(doc.get("response_der")),
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
        self._entries: collections.deque[
            tuple[int, RequestLogEntry | Callable[[], RequestLogEntry]]
        ] = collections.deque(maxlen=size)
        self._ids = itertools.count(1)
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
            # The line for people; the record for --log-format json (responder.logs),
            # without the bytes (the page's, not the log's).
            LOGGER.info("%s", entry.line(), extra={"request": entry.to_json(with_bytes=False)})
        if self._shared is not None:
            made = entry
            self._shared.put(lambda: _made(made).to_json())
            return
        self._entries.append((next(self._ids), entry))  # both atomic under the GIL

    def entries_after(self, after: int) -> list[tuple[int, RequestLogEntry]]:
        """The entries newer than id ``after`` (0: all kept), oldest first, with their ids.

        Ids only grow, in every worker alike when shared: the status page asks
        for what came since the last id it showed.
        """
        if self._shared is not None:
            self._shared.flush()
            return [
                (row_id, RequestLogEntry.from_json(doc))
                for row_id, doc in self._store.requests_after(after, self._size)
            ]
        with self._lock:
            kept = [(i, e) for i, e in self._entries if i > after]
        return [(i, _made(e)) for i, e in kept]

    def entries(self) -> list[RequestLogEntry]:
        """The last entries (of every worker, when shared), oldest first."""
        if self._shared is not None:
            self._shared.flush()  # this worker's own requests are in the answer too
            return [
                RequestLogEntry.from_json(doc) for doc in self._store.recent_requests(self._size)
            ]
        with self._lock:
            kept = list(self._entries)
        return [_made(entry) for _, entry in kept]


def _made(entry: RequestLogEntry | Callable[[], RequestLogEntry]) -> RequestLogEntry:
    return entry if isinstance(entry, RequestLogEntry) else entry()
