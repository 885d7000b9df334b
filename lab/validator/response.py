"""Reading an OCSPResponse (RFC 6960 4.2.1) once, into plain values.

Two readers give the same :class:`ParsedResponse`. The common shape (one
SingleResponse, a usual signature algorithm, readable certificates) is read
by cryptography's OCSP parser, which is strict DER and fast; whatever it does
not cover or refuses to parse is read again by asn1crypto, which reads every
structure RFC 6960 allows. ``tests/test_validator_parse.py`` holds the two to
the same result, on lab responses and on mutations of them.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import OCSPExtensionOID, SignatureAlgorithmOID

from lab.evidence import CertStatus, CheckFailure, ErrorCode
from lab.ocsp_request import RequestedCertID
from lab.validator.facts import FACTS, CertFacts
from pki.spec import REASONS

__all__ = [
    "NONCE_OID",
    "ParsedResponse",
    "SingleExtension",
    "SingleResponse",
    "parse_response",
    "parse_response_asn1",
    "read",
    "status_error",
    "status_name",
]

_BASIC = "1.3.6.1.5.5.7.48.1.1"  # id-pkix-ocsp-basic (RFC 6960 4.2.1)
#: id-pkix-ocsp-nonce (RFC 6960 4.4.1), dotted.
NONCE_OID = OCSPExtensionOID.NONCE.dotted_string
#: Extensions whose meaning we know, so a critical one is acceptable (RFC 6960 4.4).
_KNOWN_RESPONSE_EXTENSIONS = frozenset({NONCE_OID, "1.3.6.1.5.5.7.48.1.9"})  # + extended-revoke
_CRL_REASON = "2.5.29.21"
_INVALIDITY_DATE = "2.5.29.24"
#: The singleExtensions we know (RFC 6960 4.4, RFC 5280 5.3), by OID, with a name to print.
_SINGLE_EXTENSIONS = {
    "1.3.6.1.5.5.7.48.1.3": "CRL references",  # RFC 6960 4.4.2
    "1.3.6.1.5.5.7.48.1.6": "archive cutoff",  # RFC 6960 4.4.4
    _CRL_REASON: "CRL reason",
    _INVALIDITY_DATE: "invalidity date",
    "1.3.6.1.4.1.11129.2.4.5": "SCT list",  # RFC 6962 3.3
}
_REASON_NAMES = {value: name for name, value in REASONS.items()}
#: How much of an extension value we show, in octets.
_SHOWN_OCTETS = 32


def status_name(code: int) -> str:
    """RFC 6960 4.2.1's name of responseStatus ``code``: cryptography's enum, in ASN.1 case."""
    try:
        status = ocsp.OCSPResponseStatus(code)
    except ValueError:
        return f"undefined ({code})"
    first, *rest = status.name.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def status_error(code: int) -> ErrorCode | None:
    """The error code of an unsuccessful responseStatus (same words), None if undefined."""
    try:
        status = ocsp.OCSPResponseStatus(code)
    except ValueError:
        return None  # 4 is unused, > 6 undefined
    if status is ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None
    return ErrorCode(status.name.lower().replace("_", "-"))


@dataclass(frozen=True)
class SingleExtension:
    """One singleExtension (RFC 6960 4.4) as it is shown: OID, criticality, readable value."""

    oid: str
    critical: bool
    value: str  # the reason's name, the date, or the value's first octets in hex

    def __str__(self) -> str:
        name = _SINGLE_EXTENSIONS.get(self.oid) or ("nonce" if self.oid == NONCE_OID else None)
        label = f"{name} ({self.oid})" if name else self.oid
        return f"{label}{', critical' if self.critical else ''}: {self.value}"


@dataclass(frozen=True)
class SingleResponse:
    """One SingleResponse (RFC 6960 4.2.1) as plain values."""

    cert_id: RequestedCertID
    status: CertStatus
    this_update: dt.datetime
    next_update: dt.datetime | None
    revocation_time: dt.datetime | None = None
    reason: str | None = None
    critical_extensions: tuple[str, ...] = ()  # dotted OIDs of unknown critical singleExtensions
    extensions: tuple[SingleExtension, ...] = ()  # every singleExtension, in order


@dataclass(frozen=True)
class ParsedResponse:
    """An OCSPResponse read once, with the exact signed bytes kept for verification."""

    status_code: int
    version: int = 0  # ResponseData version (RFC 6960 4.2.1: v1 = 0, the only one defined)
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
        return status_name(self.status_code)


def parse_response(der: bytes) -> ParsedResponse:
    """Read an OCSPResponse; :class:`CheckFailure` ``malformed-response`` if unreadable."""
    return read(der)[0]


def parse_response_asn1(der: bytes) -> ParsedResponse:
    """:func:`parse_response` with asn1crypto only (every structure RFC 6960 allows)."""
    return _read_asn1(der)[0]


def read(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
    """The response and the facts of its readable embedded certificates, in order."""
    try:
        return _read_fast(der)
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension):
        # cryptography refused to parse it, or it is not the common shape (_Uncommon,
        # a ValueError): asn1crypto decides. Anything else is a bug and propagates.
        pass
    return _read_asn1(der)


# ---- shared by both readers ------------------------------------------------------------


def _fmt(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%SZ")


def _hex(value: bytes) -> str:
    shown = value[:_SHOWN_OCTETS].hex().upper()
    return shown + (f"… ({len(value)} octets)" if len(value) > _SHOWN_OCTETS else "")


def _nonce_value(extn_value: bytes) -> bytes:
    """RFC 9654 2.1: extnValue wraps an OCTET STRING; accept a bare value too (RFC 6960)."""
    try:
        return bytes(asn1_core.OctetString.load(extn_value, strict=True).native)
    except ValueError:
        return extn_value


def _raw_value_text(oid: str, extn_value: bytes) -> str:
    """What an extension value not parsed by cryptography shows: a nonce's octets, or hex."""
    return _hex(_nonce_value(extn_value) if oid == NONCE_OID else extn_value)


def _unknown_critical(extensions: tuple[SingleExtension, ...]) -> tuple[str, ...]:
    return tuple(e.oid for e in extensions if e.critical and e.oid not in _SINGLE_EXTENSIONS)


# ---- the fast reader: cryptography ------------------------------------------------------


class _Uncommon(ValueError):
    """Readable, maybe, but not the shape the fast reader covers: asn1crypto reads it."""


_SIGNATURE_ALGORITHMS = {
    **dict.fromkeys(
        (
            SignatureAlgorithmOID.ECDSA_WITH_SHA1,
            SignatureAlgorithmOID.ECDSA_WITH_SHA224,
            SignatureAlgorithmOID.ECDSA_WITH_SHA256,
            SignatureAlgorithmOID.ECDSA_WITH_SHA384,
            SignatureAlgorithmOID.ECDSA_WITH_SHA512,
        ),
        "ecdsa",
    ),
    **dict.fromkeys(
        (
            SignatureAlgorithmOID.RSA_WITH_SHA1,
            SignatureAlgorithmOID.RSA_WITH_SHA224,
            SignatureAlgorithmOID.RSA_WITH_SHA256,
            SignatureAlgorithmOID.RSA_WITH_SHA384,
            SignatureAlgorithmOID.RSA_WITH_SHA512,
        ),
        "rsassa_pkcs1v15",
    ),
    SignatureAlgorithmOID.ED25519: "ed25519",
    SignatureAlgorithmOID.ED448: "ed448",
}  # RSASSA-PSS is not here: cryptography does not give an OCSP response's PSS parameters
_CERT_STATUS = {
    ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
    ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
    ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
}
_SUCCESSFUL = ocsp.OCSPResponseStatus.SUCCESSFUL
_REVOKED = ocsp.OCSPCertStatus.REVOKED


def _fast_single_extension(ext: x509.Extension[x509.ExtensionType]) -> SingleExtension:
    value = ext.value
    oid = ext.oid.dotted_string
    if isinstance(value, x509.CRLReason):
        text = value.reason.value  # cryptography's ReasonFlags values are RFC 5280's names
    elif isinstance(value, x509.InvalidityDate):
        text = _fmt(value.invalidity_date_utc)
    elif isinstance(value, x509.UnrecognizedExtension):
        text = _raw_value_text(oid, value.value)
    else:  # an SCT list, parsed: only asn1crypto keeps its bytes
        raise _Uncommon(f"singleExtension {oid}")
    return SingleExtension(oid, ext.critical, text)


def _read_fast(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
    """The common shape, read by cryptography; raises ValueError on anything else."""
    response = ocsp.load_der_ocsp_response(der)  # strict DER; refuses versions other than v1
    status = response.response_status
    if status is not _SUCCESSFUL:
        return ParsedResponse(status_code=status.value), ()
    singles = list(response.responses)
    if len(singles) != 1:
        raise _Uncommon("several SingleResponses: cryptography gives one's extensions")
    signature_algo = _SIGNATURE_ALGORITHMS.get(response.signature_algorithm_oid)
    if signature_algo is None:
        raise _Uncommon("an uncommon signature algorithm")
    signature_hash = response.signature_hash_algorithm
    embedded = tuple(
        FACTS.read(cert, cert.public_bytes(Encoding.DER))  # the bytes as received
        for cert in response.certificates
    )
    if not all(facts.readable() for facts in embedded):
        raise _Uncommon("an unreadable embedded certificate: asn1crypto skips it")
    single = singles[0]
    reason = None
    if single.certificate_status is _REVOKED and single.revocation_reason:
        reason = single.revocation_reason.value
    single_extensions = tuple(_fast_single_extension(e) for e in response.single_extensions)
    extensions = response.extensions
    nonce = None
    critical = []
    for ext in extensions:
        if isinstance(ext.value, x509.OCSPNonce):
            nonce = ext.value.nonce
        if ext.critical and ext.oid.dotted_string not in _KNOWN_RESPONSE_EXTENSIONS:
            critical.append(ext.oid.dotted_string)
    key_hash = response.responder_key_hash
    if key_hash is not None:
        rid_kind, rid_value = "by_key", key_hash
        rid_text = "byKey " + key_hash.hex().upper()
    else:
        name = response.responder_name
        if name is None:  # cryptography gives one of the two
            raise _Uncommon("no ResponderID")
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
                critical_extensions=_unknown_critical(single_extensions),
                extensions=single_extensions,
            ),
        ),
        tbs_der=response.tbs_response_bytes,
        signature=response.signature,
        signature_algorithm=signature_algo,
        signature_hash=None if signature_hash is None else signature_hash.name,
        certs=tuple(f.cert for f in embedded),
        nonce=nonce,
        critical_extensions=tuple(critical),
        extensions=tuple(ext.oid.dotted_string for ext in extensions),
    )
    return parsed, embedded


# ---- the full reader: asn1crypto --------------------------------------------------------


def _read_asn1(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
    try:
        return _parse_asn1(der)
    except CheckFailure:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        # asn1crypto parses lazily and raises these on hostile input; any of them
        # means the same thing here: the bytes are not an OCSPResponse.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckFailure(
            ErrorCode.MALFORMED_RESPONSE, f"not a DER OCSPResponse ({first_line})"
        ) from None


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


def _asn1_single_extension(oid: str, critical: bool, extn_value: bytes) -> SingleExtension:
    """The same readable value as cryptography's parse gives (RFC 5280 5.3.1, 5.3.2)."""
    if oid == _CRL_REASON:
        code = _enumerated(asn1_core.Enumerated.load(extn_value, strict=True))
        if code not in _REASON_NAMES:
            raise ValueError(f"CRL reason {code} is undefined (RFC 5280 5.3.1)")
        text = _REASON_NAMES[code]
    elif oid == _INVALIDITY_DATE:
        text = _fmt(asn1_core.GeneralizedTime.load(extn_value, strict=True).native)
    else:
        text = _raw_value_text(oid, extn_value)
    return SingleExtension(oid, critical, text)


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
    extensions = tuple(
        _asn1_single_extension(*ext) for ext in _extensions(single["single_extensions"])
    )
    return SingleResponse(
        cert_id=RequestedCertID.from_asn1(single["cert_id"]),
        status=cert_status,
        this_update=single["this_update"].native,
        next_update=single["next_update"].native,
        revocation_time=revocation_time,
        reason=reason,
        critical_extensions=_unknown_critical(extensions),
        extensions=extensions,
    )


def _attribute_value(value: asn1_core.Asn1Value) -> str | bytes:
    """A Name attribute's value as cryptography holds it: text, or a BIT STRING's bytes."""
    if isinstance(value, asn1_core.Any):
        value = value.parse()  # an attribute type asn1crypto has no spec for
    if isinstance(value, asn1_core.Choice):
        value = value.chosen  # DirectoryString
    if isinstance(value, asn1_core.AbstractString):
        return str(value.native)
    if isinstance(value, asn1_core.BitString):
        return bytes(value.contents)[1:]  # after the unused-bits octet
    encoded: bytes = value.dump()
    return "#" + encoded.hex()  # RFC 4514 2.4: the value's BER, in hex


def _name_text(name: asn1_x509.Name) -> str:
    """The Name as cryptography prints it (``rfc4514_string``), whichever reader ran."""
    rdns = []
    for rdn in name.chosen:
        attributes = []
        for atv in rdn:
            value = _attribute_value(atv["value"])
            oid = x509.ObjectIdentifier(atv["type"].dotted)
            kind = _ASN1Type.BitString if isinstance(value, bytes) else None
            with warnings.catch_warnings():
                # cryptography warns, as it does on parsing, when a value breaks a length
                # limit (a 3-letter country): the name is still printed, not judged here.
                warnings.simplefilter("ignore")
                attributes.append(x509.NameAttribute(oid, value, kind, _validate=False))
        if attributes:  # an empty RDN (SIZE (1..MAX) broken) prints as nothing, like OpenSSL
            rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns).rfc4514_string()


def _parse_asn1(der: bytes) -> tuple[ParsedResponse, tuple[CertFacts, ...]]:
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
        rid_text = "byName " + _name_text(asn1_x509.Name.load(rid_value, strict=True))
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
    nonce = next((_nonce_value(v) for oid, _, v in extensions if oid == NONCE_OID), None)
    singles = tuple(_single(s) for s in tbs["responses"])
    parsed = ParsedResponse(
        status_code=0,
        version=int(tbs["version"]),
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
