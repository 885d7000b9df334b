"""OCSP on the wire: decoding requests, the request errors, unsigned error responses, replies.

Everything unreadable raises :class:`MalformedRequest`, a request the
responder will not answer :class:`Unauthorized`; both are
:class:`OCSPRequestError`, whose ``status`` is the responseStatus it becomes.
The HTTP layer turns them into the unsigned response (RFC 6960 2.3, 4.2.1) in
one place (:func:`responder.app.serve_ocsp` through :func:`error_reply`),
never an HTTP error. DER structures are read with asn1crypto and
cryptography, never by hand.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.ocsp import OCSPResponseStatus
from cryptography.x509.oid import OCSPExtensionOID

from pki.certid import CertID
from responder.der import octet_string

if TYPE_CHECKING:
    from responder.signing import ResponseDraft, Signer

__all__ = [
    "MAX_CERT_IDS",
    "MAX_REQUEST_BYTES",
    "OCSP_REQUEST_TYPE",
    "OCSP_RESPONSE_TYPE",
    "STATUS_BY_NAME",
    "MalformedRequest",
    "NonceForm",
    "OCSPQuery",
    "OCSPRequestError",
    "Reply",
    "Unauthorized",
    "decode_any_request",
    "decode_get_path",
    "decode_request",
    "decode_single_request",
    "error_reply",
    "error_response",
    "plain_extension",
    "read_nonce",
    "status_name",
]

OCSP_REQUEST_TYPE = "application/ocsp-request"  # RFC 6960 Appendix C.1
OCSP_RESPONSE_TYPE = "application/ocsp-response"  # RFC 6960 Appendix C.2
#: Request bodies above this are refused with HTTP 413 before any parsing.
MAX_REQUEST_BYTES = 64 * 1024
#: More CertIDs than this in one request is malformedRequest: nobody asks that many.
MAX_CERT_IDS = 100
# RFC 8954 2.1: a nonce of 0 or more than 32 octets MUST be rejected with malformedRequest.
_NONCE_MIN, _NONCE_MAX = 1, 32

_NONCE_OID = OCSPExtensionOID.NONCE.dotted_string
# Request extensions we understand; any other *critical* one makes the request unreadable.
_KNOWN_REQUEST_EXTENSIONS = {
    _NONCE_OID,
    OCSPExtensionOID.ACCEPTABLE_RESPONSES.dotted_string,  # RFC 6960 4.4.3: we make basic
    "1.3.6.1.5.5.7.48.1.8",  # preferred signature algorithms (RFC 6960 4.4.7)
    "1.3.6.1.5.5.7.48.1.7",  # service locator (RFC 6960 4.4.6)
}


class NonceForm(StrEnum):
    """How a request's nonce sat in its extension's extnValue (RFC 6960 4.4.1)."""

    #: Nonce ::= OCTET STRING inside extnValue, as RFC 9654 2.1 (and RFC 8954) spell out.
    WRAPPED = "wrapped"
    #: extnValue holds the nonce bytes themselves: RFC 2560 left it open, and older
    #: clients and Bouncy Castle's legacy mode send it so. OpenSSL-based responders
    #: answer it, echoing it the same way; so does the lab (the ``raw_nonce`` fault refuses).
    RAW = "raw"


def read_nonce(extn_value: bytes) -> tuple[bytes, NonceForm]:
    """The nonce in a nonce extension's extnValue contents, and its form.

    OpenSSL's rule (and cryptography's): extnValue that is exactly one DER
    OCTET STRING is the wrapped form; anything else is the nonce itself. A
    BER encoding (constructed, long-form length) is not DER, so it is raw.
    """
    try:
        parsed = core.OctetString.load(extn_value, strict=True)
        inner = bytes(parsed.native)
    except (ValueError, TypeError):
        return extn_value, NonceForm.RAW
    if octet_string(inner) != extn_value:
        return extn_value, NonceForm.RAW
    return inner, NonceForm.WRAPPED


@dataclass(frozen=True)
class OCSPQuery:
    """A decoded OCSP request: the CertIDs asked about, in order, and the nonce."""

    der: bytes
    cert_ids: tuple[CertID, ...]
    nonce: bytes | None = None  # the nonce octets (RFC 8954), not the extension value
    nonce_form: NonceForm | None = None  # None exactly when there is no nonce

    @property
    def serials(self) -> list[int]:
        return [c.serial for c in self.cert_ids]


class OCSPRequestError(ValueError):
    """A request answered with an unsuccessful responseStatus (RFC 6960 2.3): ``status``.

    ``query`` is the decoded request when it was readable, for the request log.
    """

    status: ClassVar[OCSPResponseStatus]

    def __init__(self, message: str, *, query: OCSPQuery | None = None) -> None:
        super().__init__(message)
        self.query = query


class MalformedRequest(OCSPRequestError):
    """The request cannot be read (or is refused as unreadable): ``malformedRequest``."""

    status = OCSPResponseStatus.MALFORMED_REQUEST


class Unauthorized(OCSPRequestError):
    """The responder will not answer for these certificates: ``unauthorized``."""

    status = OCSPResponseStatus.UNAUTHORIZED


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
    nonce_form: NonceForm | None = None  # of the request answered, for the request log
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
            return status_name(self.status)
        return ",".join(single.status.value for single in self.draft.singles)


def status_name(status: OCSPResponseStatus) -> str:
    """The RFC 6960 4.2.1 ASN.1 name of ``status`` (``tryLater``), as SCENARIOS.md spells it.

    cryptography's enum carries the RFC's values; its member names are the
    ASN.1 names in upper snake case (TRY_LATER), so the name is derived, not tabled.
    """
    first, *rest = status.name.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


#: RFC 6960 4.2.1 responseStatus by its ASN.1 name.
STATUS_BY_NAME = {status_name(status): status for status in OCSPResponseStatus}


def _encode_error(status: OCSPResponseStatus) -> bytes:
    return bytes(asn1_ocsp.OCSPResponse({"response_status": status.value}).dump())


# RFC 6960 4.2.1: an unsuccessful response carries the status alone, unsigned.
_ERROR_RESPONSES = {
    s: _encode_error(s) for s in OCSPResponseStatus if s is not OCSPResponseStatus.SUCCESSFUL
}


def error_response(status: OCSPResponseStatus) -> Reply:
    """An unsigned response with only ``responseStatus`` (RFC 6960 2.3)."""
    if status is OCSPResponseStatus.SUCCESSFUL:
        raise ValueError("status must be an unsuccessful responseStatus, not successful")
    return Reply(body=_ERROR_RESPONSES[status], status=status)


def error_reply(error: OCSPRequestError) -> Reply:
    """The wire form of a request error: its unsigned responseStatus, and what the log needs."""
    reply = error_response(error.status)
    if error.query is not None:
        reply.serials = tuple(error.query.serials)
        reply.nonce_form = error.query.nonce_form
    return reply


def _cert_id(value: Any) -> CertID:
    try:
        return CertID.from_asn1(value)
    except ValueError as exc:
        raise MalformedRequest(str(exc)) from None


class _Extension(core.Sequence):  # type: ignore[misc]  # asn1crypto has no types
    """RFC 5280 4.1 Extension with extnValue as plain octets.

    asn1crypto's TBSRequestExtension parses a nonce's extnValue as an OCTET
    STRING on access, so a raw nonce would read as a broken request.
    """

    _fields = [  # noqa: RUF012 -- asn1crypto's declaration style
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


def plain_extension(extension: Any) -> tuple[str, bool, bytes]:
    """An asn1crypto Extension as (extnID, critical, extnValue contents), nothing parsed.

    For request and response extensions alike: a raw nonce stays readable.
    """
    plain = _Extension.load(extension.dump(), strict=True)
    return plain["extn_id"].dotted, bool(plain["critical"].native), plain["extn_value"].contents


def _nonce(extensions: Any) -> tuple[bytes, NonceForm] | None:
    nonce = None
    for item in extensions:
        extension = _Extension.load(item.dump(), strict=True)
        oid = extension["extn_id"].dotted
        if oid == _NONCE_OID:
            if nonce is not None:
                raise MalformedRequest("two nonce extensions")  # RFC 5280 4.2: once each
            # RFC 9654 2.1 / RFC 8954 2.1: Nonce ::= OCTET STRING (SIZE(1..32)) inside
            # extnValue; a raw one (the bytes themselves) is answered too: see NonceForm.
            nonce = read_nonce(extension["extn_value"].contents)
            if not _NONCE_MIN <= len(nonce[0]) <= _NONCE_MAX:
                raise MalformedRequest(
                    f"nonce of {len(nonce[0])} octets: RFC 8954 allows {_NONCE_MIN} to {_NONCE_MAX}"
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
        nonce = form = None
        for extension in request.extensions:  # duplicates raise: decode_any_request says so
            if isinstance(extension.value, x509.OCSPNonce):
                nonce = extension.value.nonce
            elif extension.critical and extension.oid.dotted_string not in (
                _KNOWN_REQUEST_EXTENSIONS
            ):
                return None
        if nonce is not None:
            form = _nonce_form_at_end(der, nonce) if len(request.extensions) == 1 else None
            if form is None:
                return None
        cert_id = CertID.from_cryptography(request)
    except Exception:  # whatever it cannot read, asn1crypto reads or refuses
        return None
    return OCSPQuery(der=der, cert_ids=(cert_id,), nonce=nonce, nonce_form=form)


def _nonce_form_at_end(der: bytes, nonce: bytes) -> NonceForm | None:
    """How ``nonce`` sits in the extnValue that ends ``der``; None: not provably so.

    cryptography, like OpenSSL, unwraps an extnValue that is one OCTET STRING
    and takes any other as the raw nonce, without saying which it did. When the
    nonce is the only extension and ends the request (no signature: what OpenSSL
    and browsers send), the last bytes tell: the wrapped form ends in the nonce
    wrapped twice (extnValue around Nonce), the raw form in the nonce wrapped
    once — the two octets before a raw extnValue end the extnID or critical,
    never an OCTET STRING header, so the two cannot be confused. Anything
    else, or a length RFC 8954 refuses, is for the general reader.
    """
    if not _NONCE_MIN <= len(nonce) <= _NONCE_MAX:
        return None
    once = octet_string(nonce)
    if der.endswith(octet_string(once)):
        return NonceForm.WRAPPED
    if der.endswith(once) and read_nonce(nonce)[1] is NonceForm.RAW:
        return NonceForm.RAW
    return None


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
    if nonce is None:
        return OCSPQuery(der=der, cert_ids=tuple(cert_ids))
    return OCSPQuery(der=der, cert_ids=tuple(cert_ids), nonce=nonce[0], nonce_form=nonce[1])


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
