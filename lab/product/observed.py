"""What a product did, as the lab saw it: the connection, its process, its OCSP requests.

Evidence only, kept apart from any verdict (DESIGN.md): the comparison with
the model is :mod:`lab.product.compare`'s. The OCSP requests are the
responder's own request log (:mod:`responder.requestlog`) for the time of
one connection, each read back from the DER it logged
(:meth:`lab.ocsp_request.OCSPRequest.parse`): method, CertID hash, nonce.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lab.ocsp_request import OCSPRequest
from lab.scenario import ConnectionOutcome
from lab.tls.record import ConnectionRecord
from responder.requestlog import RequestLogEntry

__all__ = ["OUTPUT_TAIL", "ProductObservation", "SeenRequest", "seen_request"]

#: How much of a product's output a report keeps: its end says why it stopped.
OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class SeenRequest:
    """One OCSP request the product sent (RFC 6960 4.1), as the responder logged it."""

    at: dt.datetime
    method: str  # POST / GET (RFC 6960 A.1)
    hash: str  # the CertID's hashAlgorithm ("sha1", "sha256"; "?" when not kept)
    nonce: str  # "none", "wrapped" (RFC 9654 2.1), "raw"
    serials: tuple[str, ...]
    answer: str

    def describe(self) -> str:
        serials = ",".join(self.serials) or "-"
        return (
            f"{self.method} {self.hash} nonce={self.nonce} serials={serials} answer={self.answer}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "method": self.method,
            "hash": self.hash,
            "nonce": self.nonce,
            "serials": list(self.serials),
            "answer": self.answer,
        }


def seen_request(entry: RequestLogEntry) -> SeenRequest:
    """The request of one log entry, its CertID hash read from the DER the log kept."""
    algorithm = "?"
    if entry.request_der is not None:
        try:
            algorithm = OCSPRequest.parse(entry.request_der).hash_algorithm
        except ValueError:
            algorithm = "unreadable"
    return SeenRequest(
        at=entry.at,
        method=entry.method,
        hash=algorithm,
        nonce=entry.nonce or "none",
        serials=entry.serials,
        answer=entry.answer,
    )


@dataclass(frozen=True)
class ProductObservation:
    """One connection of the product: what became of it, and what the product sent and said.

    ``connection`` is ``allowed`` when the handshake completed and data
    flowed, ``refused`` when it was aborted or never came (``why`` says
    which: the alert, "no connection", a timeout).
    """

    connection: ConnectionOutcome
    why: str
    record: ConnectionRecord | None = None
    requests: tuple[SeenRequest, ...] = ()
    argv: tuple[str, ...] = ()
    exit_status: int | None = None  # None: no process (server / manual), or killed at timeout
    timed_out: bool = False
    output: str = ""  # the tail of the product's output (stdout and stderr)
    seconds: float = 0.0  # the product's own time: from its start to its end
    #: long-lived connections (--timeline real): when it ended, from its start; None: open
    dropped_after: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.connection is ConnectionOutcome.ALLOWED

    def summary(self) -> str:
        """One line: the outcome, the alert or why, the process, the OCSP requests."""
        parts = [f"{self.connection.value} ({self.why})"]
        if self.argv:
            if self.timed_out:
                parts.append("killed at the timeout")
            else:
                parts.append(f"exit status {self.exit_status}")
        parts.append(_requests_words(self.requests))
        parts += list(self.notes)
        return ", ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "connection": self.connection.value,
            "why": self.why,
            "record": None if self.record is None else self.record.to_json(),
            "argv": list(self.argv) or None,
            "exit_status": self.exit_status,
            "timed_out": self.timed_out,
            "output": self.output,
            "seconds": round(self.seconds, 4),
            "dropped_after": self.dropped_after,
            "ocsp_requests": [r.to_json() for r in self.requests],
            "notes": list(self.notes),
        }


def _requests_words(requests: tuple[SeenRequest, ...]) -> str:
    if not requests:
        return "no OCSP request"
    count = f"{len(requests)} OCSP request{'s' if len(requests) > 1 else ''}"
    return f"{count}: " + "; ".join(r.describe() for r in requests)
