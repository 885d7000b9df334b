"""Judge an OCSP response: bytes and context in, :class:`~lab.evidence.Evidence` out.

Pure: no I/O, no clock (``now`` is part of the context), so every rule is
testable on bytes alone. The steps, in the order of DESIGN.md's revocation
model:

1. **response** — responseStatus (RFC 6960 4.2.1); ``successful`` must carry a
   BasicOCSPResponse (id-pkix-ocsp-basic).
2. **signer** — who signed it. First the Delegated Trust Model (DTM): the
   issuing CA itself, or a responder certificate issued directly by it (its
   signature verifies with the CA's key, issuer name matches), carrying
   id-kp-OCSPSigning and valid now (RFC 6960 4.2.2.2). Then the Trusted
   Responder model (TRP): the signer is byte-equal to a trust-store
   certificate that carries id-kp-OCSPSigning and is valid now. The signer is
   located through the ResponderID (RFC 6960 4.2.2.3) among the embedded
   certificates, the issuer, the path's CAs and the trust store. Only signer and
   signature failures fall back to TRP.
3. **content** — final once a model accepted the signer: unknown critical
   extensions (RFC 6960 4.4, RFC 5280 4.2); CertID match (RFC 6960 3.2 item
   1) with revoked > unknown > good among several matches; thisUpdate /
   nextUpdate against the clock skew (RFC 6960 3.2 items 5–6, 4.2.2.1); nonce
   (RFC 6960 4.4.1, RFC 9654).

Every failure is a :class:`~lab.evidence.CheckFailure` with exactly one error
code, turned into evidence once, at the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from lab.evidence import (
    CertStatus,
    CertValidity,
    CheckFailure,
    ErrorCode,
    Evidence,
    NonceState,
    Step,
    StepOutcome,
    TrustedBy,
    new_evidence,
)
from lab.ocsp_request import RequestedCertID
from lab.settings import Delegation
from pki.certid import CERTID_HASHES, issuer_key_hash
from pki.spec import REASONS

__all__ = [
    "CheckContext",
    "ParsedResponse",
    "SingleResponse",
    "ValidationOptions",
    "cert_validity",
    "clear_memos",
    "explain_unverified",
    "parse_response",
    "parse_response_asn1",
    "subject_public_key_bits",
    "validate",
]

_BASIC = "1.3.6.1.5.5.7.48.1.1"  # id-pkix-ocsp-basic (RFC 6960 4.2.1)
_NONCE = "1.3.6.1.5.5.7.48.1.2"  # id-pkix-ocsp-nonce (RFC 6960 4.4.1)
#: Extensions whose meaning we know, so a critical one is acceptable (RFC 6960 4.4).
_KNOWN_RESPONSE_EXTENSIONS = frozenset({_NONCE, "1.3.6.1.5.5.7.48.1.9"})  # + extended-revoke
_KNOWN_SINGLE_EXTENSIONS = frozenset(
    {
        "1.3.6.1.5.5.7.48.1.3",  # CRL references (4.4.2)
        "1.3.6.1.5.5.7.48.1.6",  # archive cutoff (4.4.4)
        "2.5.29.21",  # CRL reason
        "2.5.29.24",  # invalidity date
        "1.3.6.1.4.1.11129.2.4.5",  # SCT list (RFC 6962)
    }
)
#: RFC 6960 2.3 responseStatus values and their error codes (4 is unused).
_STATUS_ERRORS = {
    1: ErrorCode.MALFORMED_REQUEST,
    2: ErrorCode.INTERNAL_ERROR,
    3: ErrorCode.TRY_LATER,
    5: ErrorCode.SIG_REQUIRED,
    6: ErrorCode.UNAUTHORIZED,
}
_STATUS_NAMES = {
    0: "successful",
    1: "malformedRequest",
    2: "internalError",
    3: "tryLater",
    5: "sigRequired",
    6: "unauthorized",
}
_REASON_NAMES = {value: name for name, value in REASONS.items()}
#: Worst first: several matching SingleResponses give the worst (DESIGN.md; BoringSSL, mozilla).
_SEVERITY = {CertStatus.REVOKED: 0, CertStatus.UNKNOWN: 1, CertStatus.GOOD: 2}
_SIGNATURE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class ValidationOptions:
    """The validator's knobs, as data (SCENARIOS.md ``[client]``)."""

    strict_cert_id: bool = False
    require_nonce: bool = False
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    #: RFC 6960 4.2.2.1: without nextUpdate, newer information is always available;
    #: such an answer is accepted this long after its thisUpdate (mozilla::pkix: 1 day).
    max_age_without_next_update: dt.timedelta = dt.timedelta(hours=24)
    delegation: Delegation = Delegation.ISSUING_CA


@dataclass(frozen=True)
class CheckContext:
    """What the validator knows besides the response bytes.

    ``cert`` and ``issuer`` are the certificate asked about and its issuing
    CA; ``requested`` the CertID sent (its hash and serial); ``nonce`` the
    nonce sent, or None. ``path`` lists the other CAs of the presented path
    (for ``delegation = "any-ca"``); ``trust`` is the trust store. ``inspect``
    may leave ``cert``, ``issuer`` or ``requested`` out: the steps that need
    them say so and are skipped or weakened.
    """

    now: dt.datetime
    cert: x509.Certificate | None = None
    issuer: x509.Certificate | None = None
    requested: RequestedCertID | None = None
    nonce: bytes | None = None
    trust: tuple[x509.Certificate, ...] = ()
    path: tuple[x509.Certificate, ...] = ()
    options: ValidationOptions = field(default_factory=ValidationOptions)

    @functools.cached_property
    def _prepared(self) -> _Prepared:
        """The facts of ``cert``, ``issuer``, ``path`` and ``trust``, looked up once."""
        return _prepare(self)


# ---- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleResponse:
    """One SingleResponse (RFC 6960 4.2.1) as plain values."""

    cert_id: RequestedCertID
    status: CertStatus
    this_update: dt.datetime
    next_update: dt.datetime | None
    revocation_time: dt.datetime | None = None
    reason: str | None = None
    critical_extensions: tuple[str, ...] = ()  # dotted OIDs of critical singleExtensions


@dataclass(frozen=True)
class ParsedResponse:
    """An OCSPResponse read once, with the exact signed bytes kept for verification."""

    status_code: int
    responder_id_kind: str | None = None  # "by_key" | "by_name"
    responder_id: bytes = b""  # the key hash, or the Name's DER
    responder_id_text: str | None = None
    produced_at: dt.datetime | None = None
    singles: tuple[SingleResponse, ...] = ()
    tbs_der: bytes = b""  # tbsResponseData exactly as received (RFC 6960 4.2.1)
    signature: bytes = b""
    signature_algorithm: str = ""  # asn1crypto signature_algo: ecdsa, rsassa_pkcs1v15, …
    signature_hash: str | None = None
    pss_salt_length: int | None = None
    certs: tuple[x509.Certificate, ...] = ()
    unreadable_certs: int = 0
    nonce: bytes | None = None
    critical_extensions: tuple[str, ...] = ()  # dotted OIDs of critical responseExtensions
    extensions: tuple[str, ...] = ()  # every responseExtension, dotted

    @property
    def status_name(self) -> str:
        return _STATUS_NAMES.get(self.status_code, f"undefined ({self.status_code})")


_SHORT_NAMES = {
    "common_name": "CN",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "country_name": "C",
    "state_or_province_name": "ST",
    "locality_name": "L",
}


def _name_text(name: asn1_x509.Name) -> str:
    """An RFC 4514-like one-liner, most specific first, like cryptography prints names."""
    parts = []
    for rdn in reversed(list(name.chosen)):
        for atv in rdn:
            kind = atv["type"].native
            parts.append(f"{_SHORT_NAMES.get(kind, kind)}={atv['value'].native}")
    return ",".join(parts)


def _enumerated(value: asn1_core.Enumerated) -> int:
    return int.from_bytes(value.contents, "big", signed=True)


class _AnyExtension(asn1_core.Sequence):  # type: ignore[misc]
    """RFC 5280 Extension with extnValue left as bytes: asn1crypto would parse known
    OIDs with its own spec and fail on values it does not expect (a raw nonce)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("extn_id", asn1_core.ObjectIdentifier),
        ("critical", asn1_core.Boolean, {"default": False}),
        ("extn_value", asn1_core.OctetString),
    ]


class _AnyExtensions(asn1_core.SequenceOf):  # type: ignore[misc]
    _child_spec = _AnyExtension


def _extensions(field: asn1_core.Asn1Value) -> list[tuple[str, bool, bytes]]:
    """(OID, critical, extnValue) of an optional [n] EXPLICIT Extensions field."""
    if isinstance(field, asn1_core.Void):
        return []
    return [
        (ext["extn_id"].dotted, bool(ext["critical"].native), bytes(ext["extn_value"].native))
        for ext in _AnyExtensions.load(field.untag().dump(), strict=True)
    ]


def _nonce_value(extn_value: bytes) -> bytes:
    """RFC 9654 2.1: extnValue wraps an OCTET STRING; accept a bare value too (RFC 6960)."""
    try:
        return bytes(asn1_core.OctetString.load(extn_value, strict=True).native)
    except ValueError:
        return extn_value


def _single(single: asn1_ocsp.SingleResponse) -> SingleResponse:
    status = single["cert_status"]
    revocation_time = reason = None
    if status.name == "good":
        cert_status = CertStatus.GOOD
    elif status.name == "revoked":
        cert_status = CertStatus.REVOKED
        info = status.chosen
        revocation_time = info["revocation_time"].native
        if info["revocation_reason"].contents:
            code = _enumerated(info["revocation_reason"])
            reason = _REASON_NAMES.get(code, f"reason-{code}")
    else:
        cert_status = CertStatus.UNKNOWN
    return SingleResponse(
        cert_id=RequestedCertID.from_asn1(single["cert_id"]),
        status=cert_status,
        this_update=single["this_update"].native,
        next_update=single["next_update"].native,
        revocation_time=revocation_time,
        reason=reason,
        critical_extensions=tuple(
            oid
            for oid, critical, _ in _extensions(single["single_extensions"])
            if critical and oid not in _KNOWN_SINGLE_EXTENSIONS
        ),
    )


def parse_response(der: bytes) -> ParsedResponse:
    """Read an OCSPResponse; :class:`CheckFailure` ``malformed-response`` if unreadable.

    The common shape (one SingleResponse, usual algorithms) is read with
    cryptography's OCSP parser, which is strict DER and fast; anything it does
    not cover, or refuses, is read again with asn1crypto, which reads every
    structure RFC 6960 allows. Both give the same :class:`ParsedResponse`
    (``tests/test_validator_parse.py`` holds them to it).
    """
    return _read(der)[0]


def parse_response_asn1(der: bytes) -> ParsedResponse:
    """:func:`parse_response` with asn1crypto only (every structure RFC 6960 allows)."""
    return _read_asn1(der)[0]


def _read(der: bytes) -> tuple[ParsedResponse, tuple[_Facts, ...]]:
    """The response and the facts of its readable embedded certificates, in order."""
    try:
        return _parse_fast(der)
    except Exception:  # not the common shape: asn1crypto decides
        pass
    return _read_asn1(der)


def _read_asn1(der: bytes) -> tuple[ParsedResponse, tuple[_Facts, ...]]:
    try:
        return _parse(der)
    except CheckFailure:
        raise
    except Exception as exc:
        # asn1crypto parses lazily and raises many types on hostile input; any of
        # them means the same thing here: the bytes are not an OCSPResponse.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckFailure(
            ErrorCode.MALFORMED_RESPONSE, f"not a DER OCSPResponse ({first_line})"
        ) from None


_ECDSA_OIDS = {
    SignatureAlgorithmOID.ECDSA_WITH_SHA1,
    SignatureAlgorithmOID.ECDSA_WITH_SHA224,
    SignatureAlgorithmOID.ECDSA_WITH_SHA256,
    SignatureAlgorithmOID.ECDSA_WITH_SHA384,
    SignatureAlgorithmOID.ECDSA_WITH_SHA512,
}
_RSA_OIDS = {
    SignatureAlgorithmOID.RSA_WITH_SHA1,
    SignatureAlgorithmOID.RSA_WITH_SHA224,
    SignatureAlgorithmOID.RSA_WITH_SHA256,
    SignatureAlgorithmOID.RSA_WITH_SHA384,
    SignatureAlgorithmOID.RSA_WITH_SHA512,
}
_CERT_STATUS = {
    ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
    ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
    ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
}
_SUCCESSFUL = ocsp.OCSPResponseStatus.SUCCESSFUL
_REVOKED = ocsp.OCSPCertStatus.REVOKED


def _fast_extensions(extensions: x509.Extensions) -> list[tuple[str, bool, bytes]]:
    out = []
    for ext in extensions:
        value = ext.value
        if isinstance(value, x509.OCSPNonce):
            raw = value.nonce
        elif isinstance(value, x509.UnrecognizedExtension):
            raw = value.value
        else:
            raw = b""  # a known extension: only its OID and criticality matter here
        out.append((ext.oid.dotted_string, ext.critical, raw))
    return out


def _tlv(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    """(start of the contents, end) of the DER element at ``pos``, which must be ``tag``."""
    if der[pos] != tag:
        raise ValueError(f"expected tag {tag:#x} at {pos}")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos : pos + count], "big")
        pos += count
    return pos, pos + length


def _basic_slices(der: bytes) -> tuple[bytes, list[bytes]]:
    """tbsResponseData and each embedded certificate, exactly as received (RFC 6960 4.2.1).

    Only for bytes cryptography has already read as a strict-DER
    OCSPResponse carrying a BasicOCSPResponse: this walks known ground.
    """
    start, _ = _tlv(der, 0, 0x30)  # OCSPResponse
    _, pos = _tlv(der, start, 0x0A)  # responseStatus
    start, _ = _tlv(der, pos, 0xA0)  # [0] EXPLICIT responseBytes
    start, _ = _tlv(der, start, 0x30)  # ResponseBytes
    _, pos = _tlv(der, start, 0x06)  # responseType
    start, _ = _tlv(der, pos, 0x04)  # response
    start, end = _tlv(der, start, 0x30)  # BasicOCSPResponse
    _, tbs_end = _tlv(der, start, 0x30)  # tbsResponseData
    tbs = der[start:tbs_end]
    _, pos = _tlv(der, tbs_end, 0x30)  # signatureAlgorithm
    _, pos = _tlv(der, pos, 0x03)  # signature
    certs = []
    if pos < end:
        start, _ = _tlv(der, pos, 0xA0)  # [0] EXPLICIT certs
        pos, certs_end = _tlv(der, start, 0x30)
        while pos < certs_end:
            _, cert_end = _tlv(der, pos, 0x30)
            certs.append(der[pos:cert_end])
            pos = cert_end
    return tbs, certs


def _parse_fast(der: bytes) -> tuple[ParsedResponse, tuple[_Facts, ...]]:
    """The common shape, read by cryptography; raises on anything else (then asn1crypto)."""
    response = ocsp.load_der_ocsp_response(der)
    status = response.response_status
    if status is not _SUCCESSFUL:
        return ParsedResponse(status_code=status.value), ()
    singles = list(response.responses)
    if len(singles) != 1:
        raise ValueError("several SingleResponses: their extensions need asn1crypto")
    algorithm_oid = response.signature_algorithm_oid
    if algorithm_oid in _ECDSA_OIDS:
        signature_algo = "ecdsa"
    elif algorithm_oid in _RSA_OIDS:
        signature_algo = "rsassa_pkcs1v15"
    elif algorithm_oid == SignatureAlgorithmOID.ED25519:
        signature_algo = "ed25519"
    else:
        raise ValueError("an uncommon signature algorithm: asn1crypto reads it")
    signature_hash = response.signature_hash_algorithm
    tbs_der, cert_ders = _basic_slices(der)
    embedded = tuple(_facts_from_der(c) for c in cert_ders)
    for facts in embedded:
        if not facts.readable():
            raise ValueError("an unreadable embedded certificate: asn1crypto skips it")
    single = singles[0]
    reason = None
    if single.certificate_status is _REVOKED and single.revocation_reason:
        reason = single.revocation_reason.value
    single_extensions = _fast_extensions(response.single_extensions)
    extensions = _fast_extensions(response.extensions)
    nonce = next((v for oid, _, v in extensions if oid == _NONCE), None)
    key_hash = response.responder_key_hash
    if key_hash is not None:
        rid_kind, rid_value = "by_key", key_hash
        rid_text = "byKey " + key_hash.hex().upper()
    else:
        name = response.responder_name
        assert name is not None
        rid_kind, rid_value = "by_name", name.public_bytes()
        rid_text = "byName " + name.rfc4514_string()
    parsed = ParsedResponse(
        status_code=0,
        responder_id_kind=rid_kind,
        responder_id=rid_value,
        responder_id_text=rid_text,
        produced_at=response.produced_at_utc,
        singles=(
            SingleResponse(
                cert_id=RequestedCertID(
                    hash_algorithm=single.hash_algorithm.name,
                    issuer_name_hash=single.issuer_name_hash,
                    issuer_key_hash=single.issuer_key_hash,
                    serial=single.serial_number,
                ),
                status=_CERT_STATUS[single.certificate_status],
                this_update=single.this_update_utc,
                next_update=single.next_update_utc,
                revocation_time=single.revocation_time_utc,
                reason=reason,
                critical_extensions=tuple(
                    oid
                    for oid, critical, _ in single_extensions
                    if critical and oid not in _KNOWN_SINGLE_EXTENSIONS
                ),
            ),
        ),
        tbs_der=tbs_der,
        signature=response.signature,
        signature_algorithm=signature_algo,
        signature_hash=None if signature_hash is None else signature_hash.name,
        certs=tuple(f.cert for f in embedded),
        nonce=nonce,
        critical_extensions=tuple(
            oid
            for oid, critical, _ in extensions
            if critical and oid not in _KNOWN_RESPONSE_EXTENSIONS
        ),
        extensions=tuple(oid for oid, _, _ in extensions),
    )
    return parsed, embedded


def _parse(der: bytes) -> tuple[ParsedResponse, tuple[_Facts, ...]]:
    if not der:
        raise CheckFailure(ErrorCode.MALFORMED_RESPONSE, "empty response body")
    response = asn1_ocsp.OCSPResponse.load(der, strict=True)
    status_code = _enumerated(response["response_status"])
    if status_code != 0:
        return ParsedResponse(status_code=status_code), ()
    response_bytes = response["response_bytes"]
    if isinstance(response_bytes, asn1_core.Void):
        # RFC 6960 4.2.1: successful MUST carry responseBytes (mozilla: MALFORMED).
        raise CheckFailure(
            ErrorCode.MALFORMED_RESPONSE, "successful response without responseBytes"
        )
    if response_bytes["response_type"].dotted != _BASIC:
        raise CheckFailure(
            ErrorCode.MALFORMED_RESPONSE,
            f"responseType {response_bytes['response_type'].dotted} is not id-pkix-ocsp-basic",
        )
    basic = asn1_ocsp.BasicOCSPResponse.load(response_bytes["response"].contents, strict=True)
    tbs = basic["tbs_response_data"]
    responder_id = tbs["responder_id"]
    if responder_id.name == "by_key":
        rid_value = bytes(responder_id.chosen.native)
        rid_text = "byKey " + rid_value.hex().upper()
    else:
        rid_value = responder_id.chosen.untag().dump()
        asn1_x509.Name.load(rid_value, strict=True)  # unreadable here, not later
        rid_text = "byName " + _name_text(responder_id.chosen)
    algorithm = basic["signature_algorithm"]
    signature_algo = algorithm.signature_algo
    if signature_algo in ("ed25519", "ed448"):
        signature_hash, salt = None, None
    elif signature_algo == "rsassa_pss":
        params = algorithm["parameters"]
        signature_hash = params["hash_algorithm"]["algorithm"].native
        salt = params["salt_length"].native
    else:
        signature_hash, salt = algorithm.hash_algo, None
    embedded: list[_Facts] = []
    unreadable = 0
    for cert in basic["certs"] or []:
        try:
            facts = _facts_from_der(cert.dump())
        except (ValueError, x509.InvalidVersion):
            facts = None
        if facts is None or not facts.readable():
            unreadable += 1  # the certs field is not signed: an odd entry is skipped
            continue
        embedded.append(facts)
    extensions = _extensions(tbs["response_extensions"])
    nonce = next((_nonce_value(v) for oid, _, v in extensions if oid == _NONCE), None)
    singles = tuple(_single(s) for s in tbs["responses"])
    parsed = ParsedResponse(
        status_code=0,
        responder_id_kind=responder_id.name,
        responder_id=rid_value,
        responder_id_text=rid_text,
        produced_at=tbs["produced_at"].native,
        singles=singles,
        tbs_der=tbs.dump(),
        signature=bytes(basic["signature"].native),
        signature_algorithm=signature_algo,
        signature_hash=signature_hash,
        pss_salt_length=salt,
        certs=tuple(f.cert for f in embedded),
        unreadable_certs=unreadable,
        nonce=nonce,
        critical_extensions=tuple(
            oid
            for oid, critical, _ in extensions
            if critical and oid not in _KNOWN_RESPONSE_EXTENSIONS
        ),
        extensions=tuple(oid for oid, _, _ in extensions),
    )
    return parsed, tuple(embedded)


# ---- certificates -------------------------------------------------------------------------


def subject_public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING value (RFC 6960 4.1.1, 4.2.2.3), from cryptography.

    The same bytes as :func:`pki.certid.issuer_key_hash` hashes, without an
    asn1crypto round trip (a test holds the two together for every key type).
    """
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise ValueError(f"no fast path for {type(key).__name__}")


def cert_validity(cert: x509.Certificate | None, now: dt.datetime) -> CertValidity:
    """The certificate's validity period at ``now`` (a policy row of its own)."""
    if cert is None:
        return CertValidity.VALID
    return _facts(cert).validity(now)


class _Facts:
    """What the checks read of one certificate, each worked out once, when first needed.

    They are pure functions of the certificate's bytes, so a certificate seen
    again (the same responder answering again) costs a dictionary look-up:
    its subject, key, key and name hashes, EKU, nocheck, validity period,
    SHA-256 fingerprint, and whether a given CA's key verifies its signature.
    Nothing here depends on the response or the clock.
    """

    __slots__ = (
        "_asn1_subject",
        "_certid",
        "_issued_by",
        "_key",
        "_name",
        "_nocheck",
        "_ocsp_signing",
        "_readable",
        "_spki",
        "_subject",
        "_subject_der",
        "_times",
        "cert",
        "der",
        "fingerprint",
    )

    def __init__(self, cert: x509.Certificate, der: bytes) -> None:
        self.cert = cert
        self.der = der  # as received: the memo key, the trust-store comparison
        self.fingerprint = hashlib.sha256(der).hexdigest()
        self._readable: bool | None = None
        self._key: CertificatePublicKeyTypes | None = None
        self._spki: bytes | None = None
        self._name: x509.Name | None = None
        self._subject: str | None = None
        self._subject_der: bytes | None = None
        self._asn1_subject: asn1_x509.Name | None = None
        self._certid: dict[str, tuple[bytes, bytes]] = {}
        self._issued_by: dict[bytes, bool] = {}
        self._ocsp_signing: bool | None = None
        self._nocheck: bool | None = None
        self._times: tuple[dt.datetime, dt.datetime] | None = None

    def readable(self) -> bool:
        """cryptography parses lazily: touch now what the signer search reads later."""
        if self._readable is None:
            cert = self.cert
            try:
                cert.public_key()
                self._name = cert.subject  # a new Name at each read: keep this one
                _ = cert.extensions, cert.issuer, cert.not_valid_after_utc
            except (ValueError, UnsupportedAlgorithm):
                self._readable = False
            else:
                self._readable = True
        return self._readable

    def key(self) -> CertificatePublicKeyTypes:
        if self._key is None:
            self._key = self.cert.public_key()
        return self._key

    def spki(self) -> bytes:
        if self._spki is None:
            self._spki = self.key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return self._spki

    def name(self) -> x509.Name:
        if self._name is None:
            self._name = self.cert.subject
        return self._name

    def subject(self) -> str:
        if self._subject is None:
            self._subject = self.name().rfc4514_string()
        return self._subject

    def subject_der(self) -> bytes:
        if self._subject_der is None:
            self._subject_der = self.name().public_bytes()
        return self._subject_der

    def asn1_subject(self) -> asn1_x509.Name:
        if self._asn1_subject is None:
            self._asn1_subject = asn1_x509.Name.load(self.subject_der())
        return self._asn1_subject

    def same_subject(self, other: _Facts) -> bool:
        return self.subject_der() == other.subject_der() or self.name() == other.name()

    def certid_hashes(self, algorithm: str) -> tuple[bytes, bytes]:
        """(issuerNameHash, issuerKeyHash) of this certificate as a CertID's issuer.

        ``algorithm`` must be one of :data:`~pki.certid.CERTID_HASHES`.
        """
        hashes_ = self._certid.get(algorithm)
        if hashes_ is None:
            digest = CERTID_HASHES[algorithm]
            try:
                key_hash = digest(subject_public_key_bits(self.cert)).digest()
            except ValueError:
                key_hash = issuer_key_hash(self.cert, algorithm)
            hashes_ = self._certid[algorithm] = (digest(self.subject_der()).digest(), key_hash)
        return hashes_

    def key_sha1(self) -> bytes:
        """RFC 6960 4.2.2.3 ResponderID byKey: SHA-1 of the subjectPublicKey BIT STRING value."""
        return self.certid_hashes("sha1")[1]

    def ocsp_signing(self) -> bool:
        if self._ocsp_signing is None:
            try:
                eku = self.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                self._ocsp_signing = False
            else:
                self._ocsp_signing = ExtendedKeyUsageOID.OCSP_SIGNING in eku
        return self._ocsp_signing

    def nocheck(self) -> bool:
        if self._nocheck is None:
            try:
                self.cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
            except x509.ExtensionNotFound:
                self._nocheck = False
            else:
                self._nocheck = True
        return self._nocheck

    def validity(self, now: dt.datetime) -> CertValidity:
        if self._times is None:
            self._times = (self.cert.not_valid_before_utc, self.cert.not_valid_after_utc)
        not_before, not_after = self._times
        if now < not_before:
            return CertValidity.NOT_YET_VALID
        if now > not_after:
            return CertValidity.EXPIRED
        return CertValidity.VALID

    def valid_at(self, now: dt.datetime) -> bool:
        return self.validity(now) is CertValidity.VALID

    def issued_directly_by(self, ca: _Facts) -> bool:
        """RFC 6960 4.2.2.2: issuer name matches and the CA's key verifies the signature."""
        verified = self._issued_by.get(ca.der)
        if verified is None:
            try:
                self.cert.verify_directly_issued_by(ca.cert)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                verified = False
            else:
                verified = True
            self._issued_by[ca.der] = verified
        return verified


#: Facts by certificate bytes (embedded certificates) and by certificate object (the
#: context's); bounded, oldest first out. Safe under threads: a race computes twice.
_MEMO_SIZE = 4096
_K = TypeVar("_K")
_BY_DER: dict[bytes, _Facts] = {}
_BY_CERT: dict[x509.Certificate, _Facts] = {}


def _remember(memo: dict[_K, _Facts], key: _K, facts: _Facts) -> _Facts:
    if len(memo) >= _MEMO_SIZE:
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):
            del memo[next(iter(memo))]
    memo[key] = facts
    return facts


def _facts_from_der(der: bytes) -> _Facts:
    """Facts of the certificate ``der``; ValueError if cryptography cannot read it."""
    facts = _BY_DER.get(der)
    if facts is None:
        facts = _remember(_BY_DER, der, _Facts(x509.load_der_x509_certificate(der), der))
    return facts


def _facts(cert: x509.Certificate) -> _Facts:
    facts = _BY_CERT.get(cert)
    if facts is None:
        der = cert.public_bytes(serialization.Encoding.DER)
        facts = _BY_DER.get(der) or _remember(_BY_DER, der, _Facts(cert, der))
        _remember(_BY_CERT, cert, facts)
    return facts


def clear_memos() -> None:
    """Forget every certificate fact (benchmarks of a first-time check; tests)."""
    _BY_DER.clear()
    _BY_CERT.clear()


@dataclass(frozen=True)
class _Prepared:
    """What a :class:`CheckContext` contributes to every check made with it, read once."""

    cert: _Facts | None
    issuer: _Facts | None
    delegators: tuple[_Facts, ...]  # CAs whose direct delegation DTM accepts
    known: tuple[_Facts, ...]  # issuer, path, trust: signer candidates after the embedded
    trust_der: frozenset[bytes]
    serial: int | None  # the serial asked about, if known
    subject: str | None


def _prepare(ctx: CheckContext) -> _Prepared:
    cert = None if ctx.cert is None else _facts(ctx.cert)
    issuer = None if ctx.issuer is None else _facts(ctx.issuer)
    path = tuple(_facts(c) for c in ctx.path)
    trust = tuple(_facts(c) for c in ctx.trust)
    delegators: tuple[_Facts, ...] = ()
    if issuer is not None:
        delegators = (issuer,)
        if ctx.options.delegation is Delegation.ANY_CA:
            delegators += tuple(c for c in path if c.der != issuer.der)
    if ctx.cert is not None:
        serial: int | None = ctx.cert.serial_number
    else:
        serial = ctx.requested.serial if ctx.requested else None
    return _Prepared(
        cert=cert,
        issuer=issuer,
        delegators=delegators,
        known=(*([issuer] if issuer else []), *path, *trust),
        trust_der=frozenset(t.der for t in trust),
        serial=serial,
        subject=None if cert is None else cert.subject(),
    )


# ---- signature ----------------------------------------------------------------------------

_HASH_OBJECTS = {name: cls() for name, cls in _SIGNATURE_HASHES.items()}
_ECDSA = {name: ec.ECDSA(hash_) for name, hash_ in _HASH_OBJECTS.items()}
_PKCS1 = padding.PKCS1v15()


def _signature_verifies(parsed: ParsedResponse, signer: _Facts) -> bool:
    """The response signature over tbsResponseData, with the signer's key (RFC 6960 3.2 item 2)."""
    try:
        key = signer.key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    algo = parsed.signature_algorithm
    hash_name = parsed.signature_hash or ""
    hash_ = _HASH_OBJECTS.get(hash_name)
    try:
        if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey) and hash_:
            key.verify(parsed.signature, parsed.tbs_der, _ECDSA[hash_name])
        elif algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey) and hash_:
            key.verify(parsed.signature, parsed.tbs_der, _PKCS1, hash_)
        elif algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and hash_:
            pss = padding.PSS(padding.MGF1(hash_), parsed.pss_salt_length or 20)
            key.verify(parsed.signature, parsed.tbs_der, pss, hash_)
        elif (algo == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey)) or (
            algo == "ed448" and isinstance(key, ed448.Ed448PublicKey)
        ):
            key.verify(parsed.signature, parsed.tbs_der)
        else:
            # MD5/MD2 signatures, DSA, or an algorithm that does not fit the key.
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


@functools.lru_cache(maxsize=256)
def _asn1_name(der: bytes) -> asn1_x509.Name:
    return asn1_x509.Name.load(der)


def _responder_id_matches(parsed: ParsedResponse, cert: _Facts) -> bool:
    """RFC 6960 4.2.2.3: byKey is SHA-1 of the subjectPublicKey BIT STRING value.

    byName compares names as RFC 5280 7.1 does (asn1crypto normalises string
    types and case), not byte for byte: OpenSSL re-encodes the name it puts there.
    """
    if parsed.responder_id_kind == "by_key":
        return cert.key_sha1() == parsed.responder_id
    if cert.subject_der() == parsed.responder_id:
        return True
    return bool(cert.asn1_subject() == _asn1_name(parsed.responder_id))


class _Accepted(NamedTuple):
    signer: _Facts
    model: TrustedBy
    delegated: bool
    how: str
    warnings: tuple[str, ...] = ()


def _unique(certs: Iterable[_Facts]) -> list[_Facts]:
    seen: set[bytes] = set()
    out = []
    for cert in certs:
        if cert.der not in seen:
            seen.add(cert.der)
            out.append(cert)
    return out


def _dtm_reason(
    signer: _Facts, prep: _Prepared, ctx: CheckContext
) -> tuple[str | None, bool, tuple[str, ...]]:
    """(why DTM refuses ``signer`` or None, delegated?, warnings)."""
    issuer = prep.issuer
    if issuer is None:
        return "no issuing CA given", False, ()
    # RFC 6960 4.2.2.2 case 1: the CA that issued the certificate in question.
    if signer.spki() == issuer.spki() and signer.same_subject(issuer):
        return None, False, ()
    # Case 3: a CA Designated Responder, issued directly by that CA (same key).
    for ca in prep.delegators:
        if not signer.issued_directly_by(ca):  # issuer name and the CA's signature
            continue
        if not signer.ocsp_signing():
            return f"{signer.subject()} has no id-kp-OCSPSigning EKU", True, ()
        if not signer.valid_at(ctx.now):
            return f"{signer.subject()} is outside its validity period", True, ()
        warnings: tuple[str, ...] = ()
        if not signer.nocheck():
            warnings = (
                f"delegated responder {signer.subject()} has no id-pkix-ocsp-nocheck "
                "(RFC 6960 4.2.2.2.1); its own revocation is not checked",
            )
        return None, True, warnings
    scope = "a CA of the path" if ctx.options.delegation is Delegation.ANY_CA else "the issuing CA"
    return f"{signer.subject()} is neither the issuing CA nor issued directly by {scope}", True, ()


def _trp_reason(signer: _Facts, prep: _Prepared, ctx: CheckContext) -> str | None:
    """Why TRP refuses ``signer``, or None: exactly a trust-store cert, with EKU, valid now."""
    if signer.der not in prep.trust_der:
        return f"{signer.subject()} is not in the trust store"
    if not signer.ocsp_signing():
        return f"{signer.subject()} is in the trust store but has no id-kp-OCSPSigning EKU"
    if not signer.valid_at(ctx.now):
        return f"{signer.subject()} is in the trust store but outside its validity period"
    return None


_HOW = {
    (TrustedBy.DTM, False): "the issuing CA itself",
    (TrustedBy.DTM, True): "a delegated responder issued by the CA",
    (TrustedBy.TRP, True): "a designated OCSP signing certificate of the trust store",
    (TrustedBy.TRP, False): "a designated OCSP signing certificate of the trust store",
}


def _find_signer(
    parsed: ParsedResponse, embedded: tuple[_Facts, ...], prep: _Prepared, ctx: CheckContext
) -> _Accepted:
    """DTM first, then TRP (DESIGN.md step 4); CheckFailure when neither accepts."""
    named = [c for c in _unique((*embedded, *prep.known)) if _responder_id_matches(parsed, c)]
    if not named:
        raise CheckFailure(
            ErrorCode.SIGNER_NOT_AUTHORIZED,
            f"ResponderID {parsed.responder_id_text} names no certificate in the response, "
            "the issuer or the trust store (signer not found)",
        )
    refusals: list[str] = []
    bad_signature = False
    for model in (TrustedBy.DTM, TrustedBy.TRP):
        for signer in named:
            if model is TrustedBy.DTM:
                why, delegated, warnings = _dtm_reason(signer, prep, ctx)
            else:
                why, delegated, warnings = _trp_reason(signer, prep, ctx), True, ()
            if why is not None:
                refusals.append(f"{model.value}: {why}")
                continue
            if not _signature_verifies(parsed, signer):
                bad_signature = True
                refusals.append(
                    f"{model.value}: the signature does not verify with {signer.subject()}'s key"
                )
                continue
            return _Accepted(signer, model, delegated, _HOW[model, delegated], warnings)
    # bad-signature only when no named certificate's key verifies the signature: if
    # an unauthorized one does (an impostor with a trusted name), the signer is the issue.
    if bad_signature and not any(_signature_verifies(parsed, c) for c in named):
        raise CheckFailure(ErrorCode.BAD_SIGNATURE, "; ".join(refusals))
    raise CheckFailure(ErrorCode.SIGNER_NOT_AUTHORIZED, "; ".join(refusals))


# ---- content ------------------------------------------------------------------------------


def _matches(single: RequestedCertID, ctx: CheckContext, prep: _Prepared) -> bool:
    """RFC 6960 3.2 item 1: issuer name hash, issuer key hash and serial all match."""
    requested = ctx.requested
    if prep.serial is not None and single.serial != prep.serial:
        return False
    if (
        ctx.options.strict_cert_id
        and requested
        and single.hash_algorithm != requested.hash_algorithm
    ):
        return False
    if prep.issuer is not None:
        if single.hash_algorithm not in CERTID_HASHES:
            return False  # MD5 or an unknown hash: cannot be recomputed, so no match
        name_hash, key_hash = prep.issuer.certid_hashes(single.hash_algorithm)
        return single.issuer_name_hash == name_hash and single.issuer_key_hash == key_hash
    if requested is not None:  # inspect with a captured request but no issuer
        return (
            single.hash_algorithm == requested.hash_algorithm
            and single.issuer_name_hash == requested.issuer_name_hash
            and single.issuer_key_hash == requested.issuer_key_hash
        )
    return True  # nothing to compare with: inspect says so


def _fmt(when: dt.datetime | None) -> str:
    return "none" if when is None else when.strftime("%Y-%m-%d %H:%M:%SZ")


#: A step's detail, written when someone reads it (most checks are never explained).
Render = Callable[[], str]


def validate(der: bytes, ctx: CheckContext) -> Evidence:
    """Judge the OCSP response ``der`` for ``ctx``; never raises on hostile input."""
    prep = ctx._prepared
    steps: list[Step] = []
    warnings: list[str] = []
    values: dict[str, object] = {}
    try:
        _validate(der, ctx, prep, steps, warnings, values)
    except CheckFailure as failure:
        steps.append(
            Step(_FAILED_STEP.get(failure.code, "response"), StepOutcome.FAIL, failure.message)
        )
        values["status"] = CertStatus.ERROR
        values["error"] = failure.code
        values["message"] = failure.message
    values["cert_validity"] = (
        CertValidity.VALID if prep.cert is None else prep.cert.validity(ctx.now)
    )
    values["subject"] = prep.subject
    values["serial"] = prep.serial
    values["warnings"] = tuple(warnings)
    values["steps"] = tuple(steps)
    return new_evidence(values)


_FAILED_STEP = {
    ErrorCode.BAD_SIGNATURE: "signer",
    ErrorCode.SIGNER_NOT_AUTHORIZED: "signer",
    ErrorCode.CRITICAL_EXTENSION: "extensions",
    ErrorCode.NO_MATCHING_RESPONSE: "cert-id",
    ErrorCode.STALE_RESPONSE: "freshness",
    ErrorCode.FUTURE_RESPONSE: "freshness",
    ErrorCode.NONCE_MISMATCH: "nonce",
    ErrorCode.NONCE_MISSING: "nonce",
}
_PASS, _WARN = StepOutcome.PASS, StepOutcome.WARN


def _validate(
    der: bytes,
    ctx: CheckContext,
    prep: _Prepared,
    steps: list[Step],
    warnings: list[str],
    found: dict[str, object],
) -> None:
    """Fill ``found`` with the evidence's fields; ``steps`` and ``warnings`` as it goes."""

    def warn(name: str, detail: str) -> None:
        warnings.append(detail)
        steps.append(Step(name, _WARN, detail))

    # Step 1 — responseStatus (RFC 6960 2.3). Error statuses are unsigned: never a status.
    parsed, embedded = _read(der)
    if parsed.status_code != 0:
        code = _STATUS_ERRORS.get(parsed.status_code)
        if code is None:  # 4 is unused, > 6 undefined: malformed (mozilla, BoringSSL)
            raise CheckFailure(
                ErrorCode.MALFORMED_RESPONSE, f"responseStatus {parsed.status_code} is undefined"
            )
        raise CheckFailure(code, f"responseStatus {parsed.status_name} (unsigned, RFC 6960 2.3)")
    found["responder_id"] = parsed.responder_id_text
    found["produced_at"] = parsed.produced_at
    steps.append(Step.deferred("response", _PASS, lambda: _response_detail(parsed)))
    if parsed.unreadable_certs:
        warn("response", f"{parsed.unreadable_certs} embedded certificate(s) unreadable, ignored")

    # Step 2 — who signed it: DTM, then TRP (RFC 6960 4.2.2.2).
    accepted = _find_signer(parsed, embedded, prep, ctx)
    signer = accepted.signer
    subject = signer.subject()
    model = accepted.model.value
    found["trusted_by"] = accepted.model
    found["signer_subject"] = subject
    found["signer_fingerprint"] = signer.fingerprint
    found["delegated_responder"] = accepted.delegated
    steps.append(
        Step.deferred(
            "signer", _PASS, lambda: f"{model}: {subject}, {accepted.how}; signature verifies"
        )
    )
    for warning in accepted.warnings:
        warn("signer", warning)

    # Step 3 — content. A model accepted the signer: from here on failures are final.
    steps.append(Step.deferred("extensions", _PASS, _check_extensions(parsed)))
    single, detail, cert_id_warnings = _select(parsed, ctx, prep)
    found["cert_id_hash"] = single.cert_id.hash_algorithm
    found["this_update"] = single.this_update
    found["next_update"] = single.next_update
    steps.append(Step.deferred("cert-id", _PASS, detail))
    for warning in cert_id_warnings:
        warn("cert-id", warning)
    steps.append(Step.deferred("freshness", _PASS, _check_freshness(single, ctx)))
    try:
        nonce, outcome, nonce_detail = _check_nonce(parsed, ctx)
    except CheckFailure as failure:
        mismatch = failure.code is ErrorCode.NONCE_MISMATCH
        found["nonce"] = NonceState.MISMATCH if mismatch else NonceState.MISSING
        raise
    if outcome is _WARN:
        warn("nonce", nonce_detail)
    else:
        steps.append(Step("nonce", outcome, nonce_detail))
    steps.append(Step.deferred("cert-status", _PASS, lambda: _status_detail(single)))
    found["status"] = single.status
    found["reason"] = single.reason
    found["revocation_time"] = single.revocation_time
    found["nonce"] = nonce
    found["message"] = f"{single.status.value}, signed by {subject} ({model})"


def _response_detail(parsed: ParsedResponse) -> str:
    return (
        f"successful, {len(parsed.singles)} SingleResponse(s), ResponderID "
        f"{parsed.responder_id_text}, producedAt {_fmt(parsed.produced_at)}, "
        f"{len(parsed.certs)} certificate(s) embedded"
    )


def _check_extensions(parsed: ParsedResponse) -> Render:
    """RFC 6960 4.4 / RFC 5280 4.2: an unknown critical extension refuses the answer."""
    critical = list(parsed.critical_extensions)
    for single in parsed.singles:
        critical += single.critical_extensions
    if critical:
        raise CheckFailure(
            ErrorCode.CRITICAL_EXTENSION,
            f"unknown critical extension(s) {', '.join(critical)} (RFC 6960 4.4)",
        )
    count = len(parsed.extensions)
    return lambda: (
        "no unknown critical extension" + (f" ({count} response extension(s))" if count else "")
    )


def _select(
    parsed: ParsedResponse, ctx: CheckContext, prep: _Prepared
) -> tuple[SingleResponse, Render, list[str]]:
    """RFC 6960 3.2 item 1: the matching SingleResponses, worst first (revoked > unknown > good)."""
    matching = [s for s in parsed.singles if _matches(s.cert_id, ctx, prep)]
    if not matching:
        asked = f"serial {_asked_serial(ctx)}"
        raise CheckFailure(
            ErrorCode.NO_MATCHING_RESPONSE,
            f"none of the {len(parsed.singles)} SingleResponse(s) is for {asked} of this issuer"
            + (" with the request's hash (strict_cert_id)" if ctx.options.strict_cert_id else ""),
        )
    single = matching[0] if len(matching) == 1 else min(matching, key=lambda s: _SEVERITY[s.status])

    def detail() -> str:
        text = (
            f"{len(matching)} matching SingleResponse(s), "
            f"CertID hash {single.cert_id.hash_algorithm}"
        )
        if ctx.issuer is None and ctx.requested is None:
            text += " (no issuer or request given: issuer hashes not checked)"
        if ctx.cert is None and ctx.requested is None:
            text += " (no certificate or request given: serial not checked)"
        return text

    warnings = []
    if ctx.requested and single.cert_id.hash_algorithm != ctx.requested.hash_algorithm:
        warnings.append(
            f"answered with a {single.cert_id.hash_algorithm} CertID to a "
            f"{ctx.requested.hash_algorithm} request (recomputed)"
        )
    return single, detail, warnings


def _check_freshness(single: SingleResponse, ctx: CheckContext) -> Render:
    """RFC 6960 3.2 items 5–6 and 4.2.2.1, with the clock skew."""
    skew = ctx.options.clock_skew
    this_update, next_update = single.this_update, single.next_update
    if this_update > ctx.now + skew:
        raise CheckFailure(
            ErrorCode.FUTURE_RESPONSE,
            f"thisUpdate {_fmt(this_update)} is after now {_fmt(ctx.now)} + skew",
        )
    if next_update is not None:
        if next_update < this_update:
            raise CheckFailure(ErrorCode.MALFORMED_RESPONSE, "nextUpdate is before thisUpdate")
        if next_update < ctx.now - skew:
            raise CheckFailure(
                ErrorCode.STALE_RESPONSE,
                f"nextUpdate {_fmt(next_update)} has passed (now {_fmt(ctx.now)})",
            )
        return lambda: f"thisUpdate {_fmt(this_update)}, nextUpdate {_fmt(next_update)}"
    limit = this_update + ctx.options.max_age_without_next_update
    if ctx.now - skew > limit:
        raise CheckFailure(
            ErrorCode.STALE_RESPONSE,
            f"no nextUpdate and thisUpdate {_fmt(this_update)} is more than "
            f"{ctx.options.max_age_without_next_update} old",
        )
    return lambda: f"thisUpdate {_fmt(this_update)}, no nextUpdate (fresh until {_fmt(limit)})"


def _check_nonce(parsed: ParsedResponse, ctx: CheckContext) -> tuple[NonceState, StepOutcome, str]:
    """RFC 6960 4.4.1 / RFC 9654: the nonce binds the answer to this request."""
    if ctx.nonce is None:
        return NonceState.NOT_SENT, StepOutcome.SKIP, "none sent"
    if parsed.nonce is None:
        if ctx.options.require_nonce:
            raise CheckFailure(ErrorCode.NONCE_MISSING, "nonce sent but not echoed (require_nonce)")
        return (
            NonceState.MISSING,
            StepOutcome.WARN,
            "nonce sent but not echoed (a pre-produced answer?)",
        )
    if parsed.nonce != ctx.nonce:
        raise CheckFailure(ErrorCode.NONCE_MISMATCH, "the response echoes another nonce")
    return (
        NonceState.ECHOED,
        StepOutcome.PASS,
        _ECHOED.get(len(ctx.nonce)) or (f"echoed ({len(ctx.nonce)} octets)"),
    )


_ECHOED = {n: f"echoed ({n} octets)" for n in range(1, 129)}


def _status_detail(single: SingleResponse) -> str:
    detail = single.status.value
    if single.status is CertStatus.REVOKED:
        detail += f", reason {single.reason or 'none given'}, since {_fmt(single.revocation_time)}"
    return detail


def explain_unverified(der: bytes, ctx: CheckContext) -> tuple[Step, ...]:
    """The content steps run on an answer whose signer was *not* accepted, each on its own.

    For teaching and field captures only (``inspect``): what the answer would
    have said. It never becomes evidence; the validator stops at the signer.
    """
    try:
        parsed = parse_response(der)
    except CheckFailure:
        return ()
    if parsed.status_code != 0:
        return ()
    prep = ctx._prepared
    steps: list[Step] = []

    def run(name: str, check: Callable[[], str]) -> None:
        try:
            steps.append(Step(name, StepOutcome.PASS, check()))
        except CheckFailure as failure:
            steps.append(Step(name, StepOutcome.FAIL, f"{failure.code.value}: {failure.message}"))

    run("extensions", lambda: _check_extensions(parsed)())
    try:
        single, detail, _ = _select(parsed, ctx, prep)
    except CheckFailure as failure:
        steps.append(Step("cert-id", StepOutcome.FAIL, f"{failure.code.value}: {failure.message}"))
        return tuple(steps)
    steps.append(Step("cert-id", StepOutcome.PASS, detail()))
    run("freshness", lambda: _check_freshness(single, ctx)())
    run("nonce", lambda: _check_nonce(parsed, ctx)[2])
    steps.append(Step("cert-status", StepOutcome.SKIP, _status_detail(single) + " (not trusted)"))
    return tuple(steps)


def _asked_serial(ctx: CheckContext) -> str:
    if ctx.cert is not None:
        return format(ctx.cert.serial_number, "X")
    if ctx.requested is not None:
        return format(ctx.requested.serial, "X")
    return "?"
