"""What a TLS peer did, in words: the log line and the status page's row of ``serve --tls``.

An endpoint records a connection as evidence (:class:`lab.tls.ConnectionRecord`:
outcome, alert code, staple, duration); a class watching a projector needs a
sentence: "the peer refused: alert 44 certificate_revoked — it found the
certificate revoked". This module makes that sentence, once, for both the
log line and the page, and the plain JSON entry the status page stores
(:class:`responder.store.ConnectionLog`: the responder never imports the lab).

The meanings are what each AlertDescription says in RFC 8446 6.2 (and RFC
5246 7.2.2, RFC 6066 8 for 113), told as what the peer concluded; the codes
and names themselves are :class:`lab.tls.Alert`'s.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from lab.tls import Alert, ConnectionRecord, HandshakeOutcome
from responder.store import ConnectionLog, StorageError

__all__ = ["ALERT_MEANINGS", "connection_entry", "connection_listener", "peer_did"]

#: ``serve --tls``'s logger: one line per connection.
LOGGER = logging.getLogger("responder.tls")

#: What the side that sent an alert concluded (RFC 8446 6.2; RFC 6066 8 for 113).
ALERT_MEANINGS: dict[Alert, str] = {
    Alert.CLOSE_NOTIFY: "it closed the connection in order",
    Alert.UNEXPECTED_MESSAGE: "it received a message it did not expect",
    Alert.HANDSHAKE_FAILURE: "it found no TLS parameters it would accept",
    Alert.BAD_CERTIFICATE: "it found the certificate bad (corrupt, or a signature "
    "that does not verify)",
    Alert.UNSUPPORTED_CERTIFICATE: "it does not accept this kind of certificate",
    Alert.CERTIFICATE_REVOKED: "it found the certificate revoked",
    Alert.CERTIFICATE_EXPIRED: "it found the certificate expired (or not yet valid)",
    Alert.CERTIFICATE_UNKNOWN: "it would not accept the certificate for a reason of its own "
    "(for Unified CM: a status it could not establish, such as unknown)",
    Alert.ILLEGAL_PARAMETER: "it found a field of the handshake out of range",
    Alert.UNKNOWN_CA: "it does not trust the CA that issued the certificate",
    Alert.ACCESS_DENIED: "it refused access after checking who this is",
    Alert.DECODE_ERROR: "it could not decode a message",
    Alert.DECRYPT_ERROR: "a signature or key exchange did not verify",
    Alert.PROTOCOL_VERSION: "it speaks no TLS version this endpoint offers",
    Alert.INSUFFICIENT_SECURITY: "it wants stronger ciphers than offered",
    Alert.INTERNAL_ERROR: "it failed for a reason of its own (an internal error)",
    Alert.USER_CANCELED: "it cancelled the handshake",
    Alert.MISSING_EXTENSION: "it missed an extension it requires",
    Alert.UNSUPPORTED_EXTENSION: "it got an extension it never asked for",
    Alert.UNRECOGNIZED_NAME: "it does not serve the name it was asked for",
    Alert.BAD_CERTIFICATE_STATUS_RESPONSE: "it found the stapled OCSP answer unacceptable",
    Alert.CERTIFICATE_REQUIRED: "it needed a certificate and got none",
}


def _alert(alert: Alert | None) -> str:
    if alert is None:
        return "an alert"
    meaning = ALERT_MEANINGS.get(alert, "it ended the handshake")
    return f"alert {alert.describe()} — {meaning}"


def peer_did(record: ConnectionRecord) -> str:
    """The sentence for one connection, seen from the endpoint that recorded it."""
    outcome = record.outcome
    if outcome is HandshakeOutcome.COMPLETED:
        return (
            "the peer accepted the certificate: the handshake completed"
            + (f" ({record.protocol})" if record.protocol else "")
            + " and data flowed"
        )
    if outcome is HandshakeOutcome.PEER_ALERT:
        when = " after the handshake" if record.detail == "after the handshake" else ""
        return f"the peer refused{when}: {_alert(record.alert)}"
    if outcome is HandshakeOutcome.LOCAL_ALERT:
        return f"this endpoint refused the peer's certificate: {_alert(record.alert)}"
    if outcome is HandshakeOutcome.TIMEOUT:
        return "the peer went silent: the handshake timed out"
    if outcome is HandshakeOutcome.CLOSED:
        return "the peer left mid-handshake without an alert (a port probe, or a client giving up)"
    return f"the handshake failed: {record.detail or 'no reason given'}"


def _staple_words(record: ConnectionRecord, stapling: bool) -> str:
    if not stapling:
        # Without a staple source the endpoint never hears status_request (RFC 6066 8).
        return "nothing stapled (this endpoint does not staple: [tls] staple is off)"
    if not record.staple_requested:
        return "the peer asked for no staple"
    if record.stapled:
        return f"stapled an OCSP answer ({record.stapled} bytes)"
    return "the peer asked for a staple; none was sent"


def connection_entry(
    record: ConnectionRecord,
    *,
    presented: str,
    subject: str,
    ended: dt.datetime,
    stapling: bool = True,
) -> dict[str, Any]:
    """The JSON-ready row the status page shows (and ``--log-format json`` logs).

    ``ended`` is when the endpoint heard of the connection's end (the real
    clock of ``serve``); ``started`` is that less its duration, so the page
    can put the row beside the OCSP requests made while it lasted.
    ``stapling``: whether the endpoint staples at all (else it cannot tell
    whether the peer asked).
    """
    started = ended - dt.timedelta(seconds=record.seconds)
    refused = record.outcome in (HandshakeOutcome.PEER_ALERT, HandshakeOutcome.LOCAL_ALERT)
    return {
        "peer": record.peer,
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "at": started.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        # Seconds since the epoch: the page puts the OCSP requests of this span beside it.
        "t_start": started.timestamp(),
        "t_end": ended.timestamp(),
        "outcome": record.outcome.value,
        "refused": refused,
        "alert_code": None if record.alert is None else record.alert.value,
        "alert": None if record.alert is None else record.alert.rfc_name,
        "words": peer_did(record),
        "presented": presented,
        "presented_subject": subject,
        "staple_requested": record.staple_requested,
        "stapled": record.stapled,
        "staple_words": _staple_words(record, stapling),
        "protocol": record.protocol,
        "detail": record.detail,
        "ms": round(record.seconds * 1000, 1),
    }


def connection_listener(
    presented: str,
    subject: str,
    table: ConnectionLog | None,
    *,
    stapling: bool,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Callable[[ConnectionRecord], None]:
    """``on_connection`` for ``serve --tls``: one log line in words, one row for the page.

    Runs on the connection's own thread; a row that cannot be stored is a
    warning, never the end of the endpoint (the log line still says it all).
    """

    def heard(record: ConnectionRecord) -> None:
        entry = connection_entry(
            record, presented=presented, subject=subject, ended=clock(), stapling=stapling
        )
        LOGGER.info(
            "tls %s: %s (%s presented; %s; %s ms)",
            record.peer,
            entry["words"],
            presented,
            entry["staple_words"],
            entry["ms"],
            extra={"tls": entry},
        )
        if table is not None:
            try:
                table.add(entry)
            except StorageError as exc:
                LOGGER.warning("%s", exc)

    return heard
