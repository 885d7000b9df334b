"""Replay: every OCSP request answered with exactly the captured bytes (SCENARIOS.md ``replay``).

A support engineer has the response a customer's responder sent; a product
must meet exactly that, byte for byte: the same signature, the same
producedAt, the same nonce (or none) — so nothing is signed, decoded again or
re-encoded here. :class:`ReplaySource` is a :class:`~responder.source.Source`
like the database's; the fault layer wraps it with ``transport_only`` so that
only the transport faults (``down``, ``delay``, ``http_status``,
``content_type``) apply: the others rewrite or re-sign the content, which a
replay must not do.

The request is still decoded, only for the request log (which serials were
asked); a request that cannot be decoded gets the same bytes all the same —
the captured responder's answer is what the product meets, whatever it sends.
"""

from __future__ import annotations

from asn1crypto import ocsp as asn1_ocsp
from cryptography.x509.ocsp import OCSPResponseStatus

from responder.protocol import OCSPRequestError, Reply, decode_request

__all__ = ["ReplaySource", "replay_status"]

_STATUS_BY_NAME = {
    "successful": OCSPResponseStatus.SUCCESSFUL,
    "malformed_request": OCSPResponseStatus.MALFORMED_REQUEST,
    "internal_error": OCSPResponseStatus.INTERNAL_ERROR,
    "try_later": OCSPResponseStatus.TRY_LATER,
    "sign_required": OCSPResponseStatus.SIG_REQUIRED,
    "unauthorized": OCSPResponseStatus.UNAUTHORIZED,
}


def replay_status(body: bytes) -> OCSPResponseStatus:
    """The responseStatus of a captured OCSPResponse (RFC 6960 4.2.1); ValueError if none.

    Read with asn1crypto and nothing more: the capture may be unsigned, signed
    by anyone, or stale, and is served as it is.
    """
    try:
        name = asn1_ocsp.OCSPResponse.load(body, strict=True)["response_status"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not an OCSP response ({exc})") from None
    if name not in _STATUS_BY_NAME:
        raise ValueError(f"responseStatus {name!r} is undefined (RFC 6960 4.2.1)")
    return _STATUS_BY_NAME[name]


class ReplaySource:
    """Answers every request with ``body``, the captured OCSPResponse DER, unchanged."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = replay_status(body)

    def respond(self, der: bytes) -> Reply:
        """The captured bytes; no draft and no signer, so no layer above can re-sign them."""
        reply = Reply(body=self.body, status=self.status)
        try:
            query = decode_request(der)
        except OCSPRequestError:
            return reply  # the same bytes for an unreadable request: see the module docstring
        reply.serials = tuple(query.serials)
        reply.nonce_form = query.nonce_form
        return reply
