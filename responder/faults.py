"""The fault layer: every ``[responder.faults]`` misbehaviour, at one seam.

:class:`FaultSource` wraps the honest source (Boulder's ``filterSource``
pattern) and bends its :class:`~responder.protocol.Reply`: content faults
rewrite the :class:`~responder.signing.ResponseDraft` and sign it again with
the same signer; byte faults spoil the DER; transport faults change the HTTP
status, the content type, or the timing. ``down`` is the one fault no reply
can express: the servers honour it (:mod:`responder.server` closes its
listening socket; under gunicorn, whose workers keep listening, each request's
connection is closed without a byte of answer — :mod:`responder.asgi` — or reset
under the threaded worker). Faults are read from a callable on every request,
so they change at run time. A fault that refuses the request (``raw_nonce``)
raises, as a source does, and the HTTP layer answers for it.

The keys and values of the faults, and what each imitates, are the table of
:mod:`responder.fault_table`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import replace

from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.x509.ocsp import OCSPResponseStatus

from pki.certid import CertID
from responder.clock import Clock, ocsp_time
from responder.config import (
    BodyFault,
    CertIdFault,
    Faults,
    NonceFault,
    RawNonceFault,
    ResponderIdKind,
)
from responder.protocol import (
    MalformedRequest,
    NonceForm,
    Reply,
    decode_request,
    error_response,
)
from responder.signing import CertStatus, Extension, SingleAnswer
from responder.source import Source

__all__ = ["CRITICAL_EXTENSION_OID", "GARBAGE_BODY", "FaultSource"]

#: ``critical_extension = true``: an OID under IANA's Private Enterprise Number 32473,
#: reserved for documentation (RFC 5612), so no product knows it. Every arc fits in
#: 32 bits: GnuTLS cannot parse arcs of 2^64 or more (a UUID arc, 2.25.<128 bits>,
#: made the whole response unreadable there, so a product that ignores unknown
#: critical extensions looked as if it refused them).
CRITICAL_EXTENSION_OID = "1.3.6.1.4.1.32473.6960.1"
#: ``body = "garbage"``: bytes that are no DER at all (0x3C is not a SEQUENCE tag).
GARBAGE_BODY = b"<html><body>502 Proxy Error: this is not an OCSP response</body></html>\n"
#: ``responder_id = "wrong"``: a key hash and a name that no lab certificate has.
WRONG_KEY_HASH = hashlib.sha1(b"ocsp-lab: a responder nobody has").digest()
WRONG_NAME = asn1_x509.Name.build({"organization_name": "ocsp-lab", "common_name": "nobody"})
_DEFAULT_VALIDITY = dt.timedelta(days=1)


class FaultSource:
    """Wraps a :class:`Source` and applies the current :class:`Faults` to its replies."""

    def __init__(
        self,
        inner: Source,
        *,
        faults: Callable[[], Faults],
        clock: Clock,
        transport_only: bool = False,
    ) -> None:
        self.inner = inner
        self._faults = faults
        self._clock = clock
        # Replay (responder.replay): the captured bytes go out unchanged; only HTTP bends.
        self._transport_only = transport_only

    def respond(self, der: bytes) -> Reply:
        """The inner reply, bent by every active fault (in wire order: content, bytes, HTTP)."""
        faults = self._faults()
        if not faults.any:
            return self.inner.respond(der)
        if faults.delay is not None:
            time.sleep(max(0.0, faults.delay.total_seconds()))  # real time, even virtual clock
        if faults.down:
            return Reply(body=b"", drop=True)
        if faults.http_status is not None:
            # "that HTTP status, no OCSP body"
            return Reply(body=b"", http_status=faults.http_status, content_type="text/plain")
        if self._transport_only:
            reply = self.inner.respond(der)
        elif faults.status is not None:
            reply = error_response(faults.status)
        else:
            if faults.raw_nonce is RawNonceFault.REFUSE:
                _refuse_raw_nonce(der)
            reply = self._content(self.inner.respond(der), faults)
        if not self._transport_only:
            reply = self._bytes(reply, faults)
        if faults.content_type is not None:
            reply = replace(reply, content_type=faults.content_type)
        return reply

    # ---- content faults: rewrite the draft, sign again ---------------------------------

    def _content(self, reply: Reply, faults: Faults) -> Reply:
        draft, signer = reply.draft, reply.signer
        if draft is None or signer is None:
            return reply  # an unsigned error response has no content to bend
        now = ocsp_time(self._clock())
        bent = draft
        if faults.answer is not None:
            bent = replace(bent, singles=tuple(_forced(s, faults.answer) for s in bent.singles))
        if faults.this_update is not None or faults.next_update is not None:
            bent = replace(bent, singles=tuple(_times(s, now, faults) for s in bent.singles))
        if faults.cert_id is not None:
            bent = replace(bent, singles=tuple(_cert_id(s, faults.cert_id) for s in bent.singles))
        if faults.nonce is NonceFault.OMIT:
            bent = bent.without_nonce()
        elif faults.nonce is NonceFault.WRONG:
            # RFC 8954 2.1 says echo the same value; answer another of the same length.
            asked = draft.nonce or bytes(32)
            bent = bent.with_nonce(
                bytes(b ^ 0xFF for b in asked), draft.nonce_form or NonceForm.WRAPPED
            )
        if faults.critical_extension:
            value = core.OctetString(b"ocsp-lab: unknown critical extension").dump()
            bent = replace(
                bent, extensions=(*bent.extensions, Extension(CRITICAL_EXTENSION_OID, value, True))
            )
        if faults.responder_id_wrong:
            wrong = (
                asn1_ocsp.ResponderId(name="by_key", value=WRONG_KEY_HASH)
                if bent.responder_id is ResponderIdKind.KEY
                else asn1_ocsp.ResponderId(name="by_name", value=WRONG_NAME)
            )
            bent = replace(bent, responder_id_override=wrong)
        if bent is draft:
            return reply
        return replace(reply, body=signer.sign(bent), draft=bent, cached=False)

    # ---- byte faults ------------------------------------------------------------------

    def _bytes(self, reply: Reply, faults: Faults) -> Reply:
        body = reply.body
        if faults.signature_corrupt and reply.status is OCSPResponseStatus.SUCCESSFUL:
            body = _corrupt_signature(body)
        if faults.body is BodyFault.EMPTY:
            body = b""
        elif faults.body is BodyFault.GARBAGE:
            body = GARBAGE_BODY
        elif faults.body is BodyFault.TRUNCATED:
            body = body[: len(body) // 2]
        return replace(reply, body=body) if body is not reply.body else reply


def _refuse_raw_nonce(der: bytes) -> None:
    """``raw_nonce = "refuse"``: a strict reading of RFC 6960 4.4.1 / RFC 9654 2.1.

    Such a responder reads extnValue as the Nonce OCTET STRING and finds none,
    so the request is unreadable: malformedRequest. Decoded again here, only
    while the fault is on, to see the form before anything is looked up.
    """
    query = decode_request(der)
    if query.nonce_form is NonceForm.RAW:
        raise MalformedRequest("a raw nonce (raw_nonce = refuse)", query=query)


def _forced(single: SingleAnswer, answer: str) -> SingleAnswer:
    status = CertStatus(answer)
    if status is CertStatus.REVOKED:
        revoked_at = single.revoked_at or single.this_update
        return replace(single, status=status, revoked_at=revoked_at)
    return replace(single, status=status, revoked_at=None, reason=None)


def _times(single: SingleAnswer, now: dt.datetime, faults: Faults) -> SingleAnswer:
    validity = single.next_update - single.this_update if single.next_update else _DEFAULT_VALIDITY
    this_update, next_update = single.this_update, single.next_update
    if faults.this_update is not None:  # a future (or past) answer
        this_update = now + faults.this_update
        next_update = this_update + validity if next_update is not None else None
    if faults.next_update is not None:  # a stale answer: keep thisUpdate before nextUpdate
        next_update = now + faults.next_update
        this_update = min(this_update, next_update - validity)
    return replace(single, this_update=this_update, next_update=next_update)


def _cert_id(single: SingleAnswer, fault: CertIdFault) -> SingleAnswer:
    cert_id = single.cert_id
    if fault is CertIdFault.WRONG_SERIAL:
        cert_id = replace(cert_id, serial=cert_id.serial + 1)
    elif fault is CertIdFault.WRONG_ISSUER:
        digest = hashlib.new(cert_id.hash_algorithm, b"ocsp-lab: no such issuer").digest()
        cert_id = replace(cert_id, issuer_name_hash=digest, issuer_key_hash=digest)
    elif single.issuer is not None:  # another hash than asked: recompute for the same CA
        cert_id = CertID.for_serial(cert_id.serial, single.issuer.certificate, fault.value)
    return replace(single, cert_id=cert_id)


def _corrupt_signature(body: bytes) -> bytes:
    response = asn1_ocsp.OCSPResponse.load(body)
    basic = response["response_bytes"]["response"].parsed
    signature = bytearray(basic["signature"].native)
    signature[-1] ^= 0x01  # still well-formed (DER INTEGER tail / raw octets), never verifies
    basic["signature"] = bytes(signature)
    rebuilt = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    return bytes(rebuilt.dump(force=True))
