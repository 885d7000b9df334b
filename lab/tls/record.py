"""What happened on one TLS connection, as an endpoint saw it: the evidence of a handshake.

Kept apart from any verdict: an endpoint records; a comparison (the model's
verdict beside what the peer did) is made elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from lab.tls.alerts import Alert

__all__ = ["ConnectionRecord", "HandshakeOutcome"]


class HandshakeOutcome(StrEnum):
    """How a connection ended, seen from this side."""

    COMPLETED = "completed"  # handshake done and application data flowed
    PEER_ALERT = "peer-alert"  # the peer aborted with a TLS alert (``alert`` says which)
    LOCAL_ALERT = "local-alert"  # this side refused the peer's certificate with ``alert``
    TIMEOUT = "timeout"  # the peer went silent: a bounded wait ran out
    CLOSED = "closed"  # the peer closed the transport without an alert
    ERROR = "error"  # anything else (``detail`` says what OpenSSL said)


@dataclass(frozen=True)
class ConnectionRecord:
    """One connection: who, how it ended, which alert, what was stapled, how long."""

    peer: str  # "127.0.0.1:54321"
    outcome: HandshakeOutcome
    alert: Alert | None = None
    detail: str = ""
    protocol: str | None = None  # "TLSv1.3", once negotiated
    staple_requested: bool = False  # the peer sent status_request (RFC 6066 8)
    stapled: int | None = None  # bytes of the OCSPResponse stapled; None: none
    peer_certificate: str | None = None  # the client certificate's subject (mutual TLS)
    received: int = 0  # application bytes read from the peer
    seconds: float = 0.0
    #: Who ended a connection whose handshake completed: "peer" (close_notify or EOF),
    #: "endpoint" (idle, or the endpoint closing); None before the end or without a handshake.
    closed_by: str | None = None

    @property
    def completed(self) -> bool:
        return self.outcome is HandshakeOutcome.COMPLETED

    def describe(self) -> str:
        """One line for a log or a report."""
        text = f"{self.peer}: {self.outcome.value}"
        if self.alert is not None:
            text += f" ({self.alert.describe()})"
        if self.detail:
            text += f": {self.detail}"
        if self.closed_by is not None:
            text += f"; closed by the {self.closed_by}"
        if self.staple_requested:
            text += f"; stapled {self.stapled} bytes" if self.stapled else "; nothing stapled"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "outcome": self.outcome.value,
            "alert": None if self.alert is None else self.alert.rfc_name,
            "alert_code": None if self.alert is None else self.alert.value,
            "detail": self.detail,
            "protocol": self.protocol,
            "staple_requested": self.staple_requested,
            "stapled": self.stapled,
            "peer_certificate": self.peer_certificate,
            "received": self.received,
            "seconds": round(self.seconds, 4),
            "closed_by": self.closed_by,
        }
