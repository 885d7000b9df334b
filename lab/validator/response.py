"""Reading an OCSPResponse (RFC 6960 4.2.1) once, into plain values.

:func:`parse_response` reads the common shape with cryptography's strict DER
parser (fast) and anything else with asn1crypto, which reads every structure
RFC 6960 allows. Both give the same :class:`ParsedResponse`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import SignatureAlgorithmOID

from lab.evidence import CertStatus, CheckFailure, ErrorCode
from lab.ocsp_request import RequestedCertID
from lab.validator.facts import FACTS, CertFacts
from pki.spec import REASONS

__all__ = [
    "NONCE_OID",
    "ParsedResponse",
    "SingleResponse",
    "parse_response",
    "parse_response_asn1",
    "read",
]

_BASIC = "1.3.6.1.5.5.7.48.1.1"  # id-pkix-ocsp-basic (RFC 6960 4.2.1)
NONCE_OID = "1.3.6.1.5.5.7.48.1.2"  # id-pkix-ocsp-nonce (RFC 6960 4.4.1)
_NONCE = NONCE_OID
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
_STATUS_NAMES = {
    0: "successful",
    1: "malformedRequest",
    2: "internalError",
    3: "tryLater",
    5: "sigRequired",
    6: "unauthorized",
}
_REASON_NAMES = {value: name for name, value in REASONS.items()}


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
    return read(der)[0]


def parse_response_asn1(der: bytes) -> ParsedResponse:
    """:func:`parse_response` with asn1crypto only (every structure RFC 6960 allows)."""
    return _read_asn1(der)[0]


def read(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
    """The response and the facts of its readable embedded certificates, in order."""
    try:
        return _parse_fast(der)
    except Exception:  # not the common shape: asn1crypto decides
        pass
    return _read_asn1(der)


def _read_asn1(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
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


def _parse_fast(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
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
    embedded = tuple(FACTS.from_der(c) for c in cert_ders)
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


def _parse(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
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
    embedded: list[CertFacts] = []
    unreadable = 0
    for cert in basic["certs"] or []:
        try:
            facts = FACTS.from_der(cert.dump())
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
