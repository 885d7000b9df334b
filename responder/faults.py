"""The fault layer: every ``[responder.faults]`` misbehaviour, at one seam.

:class:`FaultSource` wraps the honest source (Boulder's ``filterSource``
pattern) and bends its :class:`~responder.protocol.Reply`: content faults
rewrite the :class:`~responder.signing.ResponseDraft` and sign it again with
the same signer; byte faults spoil the DER; transport faults change the HTTP
status, the content type, or the timing. ``down`` is the one fault no reply
can express: the servers honour it (:mod:`responder.server` closes its
listening socket; under gunicorn, whose workers keep listening, each request's
connection is closed without a byte of answer — :mod:`responder.asgi` — or reset
under the threaded worker). Faults are read
from a callable on every request, so they change at run time.

Also here: faults to and from JSON (the admin API and the state file speak
SCENARIOS.md's keys and duration syntax).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.x509.ocsp import OCSPResponseStatus

from pki.certid import issuer_key_hash, issuer_name_hash
from responder.clock import Clock, ocsp_time
from responder.config import (
    FAULT_ANSWERS,
    FAULT_STATUSES,
    HEADER_VALUE,
    BodyFault,
    CertIdFault,
    Faults,
    NonceFault,
    ResponderIdKind,
)
from responder.protocol import STATUS_BY_NAME, CertID, Reply, error_response
from responder.signing import (
    CertStatus,
    Extension,
    SingleAnswer,
    sign,
)
from responder.source import Source

__all__ = [
    "CRITICAL_EXTENSION_OID",
    "GARBAGE_BODY",
    "FaultSource",
    "faults_from_json",
    "faults_to_json",
    "format_duration",
    "parse_duration",
]

#: ``critical_extension = true``: an OID under the UUID arc (ITU-T X.667), so it is
#: unknown to every client by construction.
CRITICAL_EXTENSION_OID = "2.25.329800735698586629295641978511506172918"
#: ``body = "garbage"``: bytes that are no DER at all (0x3C is not a SEQUENCE tag).
GARBAGE_BODY = b"<html><body>502 Proxy Error: this is not an OCSP response</body></html>\n"
#: ``responder_id = "wrong"``: a key hash and a name that no lab certificate has.
WRONG_KEY_HASH = hashlib.sha1(b"ocsp-lab: a responder nobody has").digest()
WRONG_NAME = asn1_x509.Name.build({"organization_name": "ocsp-lab", "common_name": "nobody"})
_DEFAULT_VALIDITY = dt.timedelta(days=1)


class FaultSource:
    """Wraps a :class:`Source` and applies the current :class:`Faults` to its replies."""

    def __init__(self, inner: Source, *, faults: Callable[[], Faults], clock: Clock) -> None:
        self.inner = inner
        self._faults = faults
        self._clock = clock

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
        if faults.status is not None:
            reply = error_response(STATUS_BY_NAME[faults.status])
        else:
            reply = self._content(self.inner.respond(der), faults)
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
            bent = bent.with_nonce(bytes(b ^ 0xFF for b in asked))
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
        return replace(reply, body=sign(bent, signer), draft=bent, cached=False)

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
        algorithm = fault.value
        issuer = single.issuer.certificate
        cert_id = CertID(
            algorithm,
            issuer_name_hash(issuer, algorithm),
            issuer_key_hash(issuer, algorithm),
            cert_id.serial,
        )
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


# ---- JSON, in SCENARIOS.md's vocabulary ----------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str | int | float) -> dt.timedelta:
    """``"5s"``, ``"-1h"``, ``"1d12h"``, ``"500ms"``, ``"0"`` or a number of seconds."""
    if isinstance(text, bool):
        raise TypeError("a duration must be a string like '5s' or a number of seconds")
    if isinstance(text, int | float):
        return dt.timedelta(seconds=text)
    value = text.strip()
    sign = -1 if value.startswith("-") else 1
    body = value.lstrip("+-")
    if body == "0":
        return dt.timedelta(0)
    parts = _DURATION.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"duration {text!r}: expected like '5s', '-1h', '1d12h' or '500ms'")
    return dt.timedelta(seconds=sign * sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(delta: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration` (``"-1h"``, ``"90s"``, ``"500ms"``)."""
    seconds = delta.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    for unit in ("d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{sign}{int(seconds // _UNITS[unit])}{unit}"
    return f"{sign}{round(seconds * 1000)}ms" if seconds else "0"


_ENUMS: dict[str, Any] = {"body": BodyFault, "nonce": NonceFault, "cert_id": CertIdFault}
_DURATIONS = ("delay", "this_update", "next_update")


def faults_from_json(doc: Mapping[str, Any]) -> Faults:
    """SCENARIOS.md ``[responder.faults]`` keys → :class:`Faults`; bad keys raise ValueError."""
    values: dict[str, Any] = {}
    for key, raw in doc.items():
        if raw is None or raw is False:
            continue
        if key == "signature":
            if raw != "corrupt":
                raise ValueError(f"faults.signature: expected 'corrupt', found {raw!r}")
            values["signature_corrupt"] = True
        elif key == "responder_id":
            if raw != "wrong":
                raise ValueError(f"faults.responder_id: expected 'wrong', found {raw!r}")
            values["responder_id_wrong"] = True
        elif key in ("down", "critical_extension"):
            if raw is not True:
                raise ValueError(f"faults.{key}: expected true or false, found {raw!r}")
            values[key] = True
        elif key in _DURATIONS:
            values[key] = parse_duration(raw)
        elif key == "http_status":
            if not isinstance(raw, int) or isinstance(raw, bool) or not 100 <= raw <= 599:
                raise ValueError(f"faults.http_status: expected an HTTP status, found {raw!r}")
            values[key] = raw
        elif key == "content_type":
            if not isinstance(raw, str) or not HEADER_VALUE.fullmatch(raw):
                raise ValueError(
                    f"faults.content_type: expected a media type (printable ASCII), found {raw!r}"
                )
            values[key] = raw
        elif key == "status":
            if raw not in FAULT_STATUSES:
                raise ValueError(f"faults.status: expected one of {FAULT_STATUSES}, found {raw!r}")
            values[key] = raw
        elif key == "answer":
            if raw not in FAULT_ANSWERS:
                raise ValueError(f"faults.answer: expected one of {FAULT_ANSWERS}, found {raw!r}")
            values[key] = raw
        elif key in _ENUMS:
            try:
                values[key] = _ENUMS[key](raw)
            except ValueError:
                choices = [e.value for e in _ENUMS[key]]
                raise ValueError(
                    f"faults.{key}: expected one of {choices}, found {raw!r}"
                ) from None
        else:
            raise ValueError(f"faults.{key}: not a fault of SCENARIOS.md")
    return Faults(**values)


def faults_to_json(faults: Faults) -> dict[str, Any]:
    """Only the active faults, with SCENARIOS.md's keys and values."""
    out: dict[str, Any] = {}
    for item in dataclasses.fields(faults):
        value = getattr(faults, item.name)
        if value is None or value is False:
            continue
        if item.name == "signature_corrupt":
            out["signature"] = "corrupt"
        elif item.name == "responder_id_wrong":
            out["responder_id"] = "wrong"
        elif isinstance(value, dt.timedelta):
            out[item.name] = format_duration(value)
        elif hasattr(value, "value"):
            out[item.name] = value.value
        else:
            out[item.name] = value
    return out
