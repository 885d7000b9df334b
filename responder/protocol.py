"""OCSP on the wire: decoding requests, unsigned error responses, the reply value.

Everything unreadable raises :class:`MalformedRequest`; the HTTP layer turns
it into an unsigned ``malformedRequest`` response (RFC 6960 4.2.1), never an
HTTP error. DER structures are read with asn1crypto, never by hand.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.ocsp import OCSPResponseStatus

from responder.der import octet_string

if TYPE_CHECKING:
    from responder.signing import ResponseDraft, Signer

__all__ = [
    "MAX_CERT_IDS",
    "MAX_REQUEST_BYTES",
    "OCSP_REQUEST_TYPE",
    "OCSP_RESPONSE_TYPE",
    "CertID",
    "MalformedRequest",
    "OCSPQuery",
    "Reply",
    "decode_any_request",
    "decode_get_path",
    "decode_request",
    "decode_single_request",
    "error_response",
]

OCSP_REQUEST_TYPE = "application/ocsp-request"  # RFC 6960 Appendix C.1
OCSP_RESPONSE_TYPE = "application/ocsp-response"  # RFC 6960 Appendix C.2
#: Request bodies above this are refused with HTTP 413 before any parsing.
MAX_REQUEST_BYTES = 64 * 1024
#: More CertIDs than this in one request is malformedRequest: nobody asks that many.
MAX_CERT_IDS = 100
# RFC 8954 2.1: a nonce of 0 or more than 32 octets MUST be rejected with malformedRequest.
_NONCE_MIN, _NONCE_MAX = 1, 32

_NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
# Request extensions we understand; any other *critical* one makes the request unreadable.
_KNOWN_REQUEST_EXTENSIONS = {
    _NONCE_OID,
    "1.3.6.1.5.5.7.48.1.4",  # acceptable responses (RFC 6960 4.4.3): we only make basic
    "1.3.6.1.5.5.7.48.1.8",  # preferred signature algorithms (RFC 6960 4.4.7)
    "1.3.6.1.5.5.7.48.1.7",  # service locator (RFC 6960 4.4.6)
}


class MalformedRequest(ValueError):
    """The request cannot be read: the answer is ``malformedRequest`` (RFC 6960 2.3)."""


@dataclass(frozen=True)
class CertID:
    """RFC 6960 4.1.1 CertID, with the hash algorithm by asn1crypto name (``sha1`` …)."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int

    def to_asn1(self) -> asn1_ocsp.CertId:
        """This CertID as an asn1crypto value (hash parameters NULL, as OpenSSL sends)."""
        return asn1_ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": self.hash_algorithm, "parameters": core.Null()},
                "issuer_name_hash": self.issuer_name_hash,
                "issuer_key_hash": self.issuer_key_hash,
                "serial_number": self.serial,
            }
        )


@dataclass(frozen=True)
class OCSPQuery:
    """A decoded OCSP request: the CertIDs asked about, in order, and the nonce."""

    der: bytes
    cert_ids: tuple[CertID, ...]
    nonce: bytes | None = None  # the nonce octets (RFC 8954), not the extension value

    @property
    def serials(self) -> list[int]:
        return [c.serial for c in self.cert_ids]


@dataclass
class Reply:
    """What goes back to the client, and how it was made (for the log and the fault layer).

    ``draft`` and ``signer`` are set for a signed, successful answer so that a
    wrapping layer can alter and re-sign it; ``status`` names the
    responseStatus; ``delay`` is real seconds to wait before answering; ``drop``
    means: answer nothing at all, end the connection (reset it where the server
    hands out its socket).
    """

    body: bytes
    status: OCSPResponseStatus = OCSPResponseStatus.SUCCESSFUL
    http_status: int = 200
    content_type: str = OCSP_RESPONSE_TYPE
    draft: ResponseDraft | None = None
    signer: Signer | None = None
    delay: float = 0.0
    drop: bool = False
    cached: bool = False
    serials: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One word per CertID (``good``/``revoked``/``unknown``), or the responseStatus.

        ``dropped`` when nothing was answered (the ``down`` fault).
        """
        if self.drop:
            return "dropped"
        if self.http_status != 200:
            return f"http-{self.http_status}"
        if self.draft is None:
            return _STATUS_NAMES[self.status]
        return ",".join(single.status.value for single in self.draft.singles)


_STATUS_NAMES = {
    OCSPResponseStatus.SUCCESSFUL: "successful",
    OCSPResponseStatus.MALFORMED_REQUEST: "malformedRequest",
    OCSPResponseStatus.INTERNAL_ERROR: "internalError",
    OCSPResponseStatus.TRY_LATER: "tryLater",
    OCSPResponseStatus.SIG_REQUIRED: "sigRequired",
    OCSPResponseStatus.UNAUTHORIZED: "unauthorized",
}
#: RFC 6960 4.2.1 responseStatus by its ASN.1 name (as SCENARIOS.md spells it).
STATUS_BY_NAME = {name: status for status, name in _STATUS_NAMES.items()}


def _encode_error(status: OCSPResponseStatus) -> bytes:
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status.value}).dump())


# RFC 6960 4.2.1: an unsuccessful response carries the status alone, unsigned.
_ERROR_RESPONSES = {
    s: _encode_error(s) for s in _STATUS_NAMES if s is not OCSPResponseStatus.SUCCESSFUL
}


def error_response(status: OCSPResponseStatus) -> Reply:
    """An unsigned response with only ``responseStatus`` (RFC 6960 2.3)."""
    if status is OCSPResponseStatus.SUCCESSFUL:
        raise ValueError("status must be an unsuccessful responseStatus, not successful")
    return Reply(body=_ERROR_RESPONSES[status], status=status)


def _cert_id(value: Any) -> CertID:
    algorithm = value["hash_algorithm"]["algorithm"].native
    serial = value["serial_number"].native
    if not isinstance(serial, int):
        raise MalformedRequest("CertID serialNumber is not an INTEGER")
    return CertID(
        hash_algorithm=str(algorithm),
        issuer_name_hash=bytes(value["issuer_name_hash"].native),
        issuer_key_hash=bytes(value["issuer_key_hash"].native),
        serial=serial,
    )


def _nonce(extensions: Any) -> bytes | None:
    nonce = None
    for extension in extensions:
        oid = extension["extn_id"].dotted
        if oid == _NONCE_OID:
            if nonce is not None:
                raise MalformedRequest("two nonce extensions")  # RFC 5280 4.2: once each
            # RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)), inside extnValue.
            inner = extension["extn_value"].contents
            parsed = core.OctetString.load(inner, strict=True)
            nonce = bytes(parsed.native)
            if not _NONCE_MIN <= len(nonce) <= _NONCE_MAX:
                raise MalformedRequest(
                    f"nonce of {len(nonce)} octets: RFC 8954 allows {_NONCE_MIN} to {_NONCE_MAX}"
                )
        elif extension["critical"].native and oid not in _KNOWN_REQUEST_EXTENSIONS:
            raise MalformedRequest(f"unknown critical request extension {oid}")
    return nonce


def decode_request(der: bytes) -> OCSPQuery:
    """Decode an OCSPRequest (RFC 6960 4.1.1); any defect raises :class:`MalformedRequest`.

    A signed request is accepted and its signature ignored (RFC 6960 4.1.2
    leaves requiring it to the responder; ``sigRequired`` is a fault).
    """
    if not der:
        raise MalformedRequest("empty request")
    return decode_single_request(der) or decode_any_request(der)


#: CertID hashes the single-request reader hands on (cryptography's names = asn1crypto's).
_SINGLE_HASHES = frozenset({"sha1", "sha256", "sha384", "sha512"})


def decode_single_request(der: bytes) -> OCSPQuery | None:
    """The common request — one CertID, a usual hash — read by cryptography; else None.

    Nearly every client asks about one certificate per request (OpenSSL,
    browsers, RFC 5019 profiles); cryptography's Rust DER reader takes those in
    a few microseconds, where asn1crypto takes ~70 — most of what a request
    with a nonce cost. Its OCSP API stops at one CertID (RFC 6960 allows
    several), so anything else — several CertIDs, an unusual hash, a nonce of the
    wrong length, an unknown critical extension, anything it cannot read —
    returns None and :func:`decode_any_request` gives the one canonical answer
    or error. tests/test_request_decoding.py holds the two readers to the same
    result wherever this one answers.
    """
    try:
        request = x509_ocsp.load_der_ocsp_request(der)
        algorithm = request.hash_algorithm.name
        if algorithm not in _SINGLE_HASHES:
            return None
        nonce = None
        for extension in request.extensions:  # duplicates raise: decode_any_request says so
            if isinstance(extension.value, x509.OCSPNonce):
                nonce = extension.value.nonce
            elif extension.critical and extension.oid.dotted_string not in (
                _KNOWN_REQUEST_EXTENSIONS
            ):
                return None
        if nonce is not None and not (
            len(request.extensions) == 1 and _nonce_wrapped_once(der, nonce)
        ):
            return None
        cert_id = CertID(
            hash_algorithm=algorithm,
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial=request.serial_number,
        )
    except Exception:  # whatever it cannot read, asn1crypto reads or refuses
        return None
    return OCSPQuery(der=der, cert_ids=(cert_id,), nonce=nonce)


def _nonce_wrapped_once(der: bytes, nonce: bytes) -> bool:
    """True if ``der`` ends with a nonce extension's extnValue, the nonce wrapped once.

    cryptography, like OpenSSL, takes an extnValue that is not an OCTET STRING as
    the raw nonce (an old client bug); RFC 8954 2.1 wants Nonce ::= OCTET STRING
    inside extnValue and :func:`decode_any_request` refuses the raw form. When the
    nonce is the only extension and ends the request (no signature: what OpenSSL
    and browsers send), the two forms differ in the last bytes — the two octets
    before a raw extnValue end the extnID or critical, never an OCTET STRING
    header — so the caller takes the request only if it ends in the wrapped
    form; anything else is for the general reader.
    """
    if not _NONCE_MIN <= len(nonce) <= _NONCE_MAX:
        return False
    return der.endswith(octet_string(octet_string(nonce)))


def decode_any_request(der: bytes) -> OCSPQuery:
    """Decode any OCSPRequest with asn1crypto: several CertIDs, any hash, every check."""
    if not der:
        raise MalformedRequest("empty request")
    try:
        request = asn1_ocsp.OCSPRequest.load(der, strict=True)
        tbs = request["tbs_request"]
        if tbs["version"].native not in ("v1", None):
            raise MalformedRequest(f"request version {tbs['version'].native}")
        cert_ids = []
        for single in tbs["request_list"]:
            cert_ids.append(_cert_id(single["req_cert"]))
            if len(cert_ids) > MAX_CERT_IDS:
                raise MalformedRequest(f"more than {MAX_CERT_IDS} CertIDs in one request")
        if not cert_ids:
            raise MalformedRequest("requestList is empty")
        nonce = _nonce(tbs["request_extensions"]) if tbs["request_extensions"] else None
    except MalformedRequest:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, ...
        raise MalformedRequest(f"not a DER OCSPRequest ({type(exc).__name__}: {exc})") from None
    return OCSPQuery(der=der, cert_ids=tuple(cert_ids), nonce=nonce)


def decode_get_path(path: str) -> bytes:
    """The DER request in an RFC 5019 GET path (``/<base64 of DER, URL-encoded>``).

    Tolerant as Boulder is: URL-encoding or not, ``+`` turned into a space by a
    proxy, leading slashes (a base URL ending in ``/`` joined with ``/``), a
    missing ``=`` padding, and the base64url alphabet.
    """
    text = unquote(path).lstrip("/").replace(" ", "+").strip()
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest(f"GET path is not base64 ({exc})") from None
