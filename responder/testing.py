"""Helpers for talking to the responder from tests and scenario runs.

:func:`ocsp_request` builds a (multi-certificate) OCSPRequest for lab
certificates with asn1crypto; :func:`parse_response` reads a DER response
back into plain values, and verifies its signature with cryptography.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import OCSPExtensionOID

from pki import PKI, CertSpec, EntrySpec, KeyType, PKISpec, Profile, RecordStatus
from pki.certid import CertID
from responder.protocol import NonceForm, plain_extension, read_nonce

__all__ = [
    "ParsedResponse",
    "ParsedSingle",
    "cert_id_for",
    "demo_spec",
    "ocsp_request",
    "parse_response",
]

_NONCE_OID = OCSPExtensionOID.NONCE.dotted_string


def cert_id_for(pki: PKI, name: str, algorithm: str = "sha1") -> CertID:
    """The CertID of lab certificate ``name`` (RFC 6960 4.1.1)."""
    cert = pki[name]
    return CertID.for_cert(cert.certificate, pki[cert.issuer or cert.name].certificate, algorithm)


def ocsp_request(
    pki: PKI,
    names: Sequence[str],
    *,
    algorithm: str = "sha1",
    nonce: bytes | None = None,
    nonce_form: NonceForm = NonceForm.WRAPPED,
    cert_ids: Sequence[CertID] = (),
) -> bytes:
    """DER OCSPRequest for the lab certificates ``names`` (plus any extra ``cert_ids``).

    ``nonce_form=NonceForm.RAW`` sends the nonce as older clients do: extnValue
    holds the nonce bytes themselves, not an OCTET STRING around them.
    """
    ids = [cert_id_for(pki, n, algorithm) for n in names] + list(cert_ids)
    tbs: dict[str, object] = {"request_list": [{"req_cert": c.to_asn1()} for c in ids]}
    if nonce is not None:
        value = core.OctetString(nonce).dump() if nonce_form is NonceForm.WRAPPED else nonce
        # Built from its fields: asn1crypto would parse (and refuse) a raw nonce's value.
        extension = asn1_ocsp.TBSRequestExtension(
            contents=core.ObjectIdentifier(_NONCE_OID).dump() + core.OctetString(value).dump()
        )
        tbs["request_extensions"] = asn1_ocsp.TBSRequestExtensions(contents=extension.dump())
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump())


@dataclass(frozen=True)
class ParsedSingle:
    """One SingleResponse, as plain values."""

    cert_id: CertID
    status: str  # good / revoked / unknown
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked_at: dt.datetime | None
    reason: str | None  # asn1crypto name (key_compromise …)


@dataclass(frozen=True)
class ParsedResponse:
    """An OCSPResponse as plain values; ``signature_valid`` checked against the signer cert."""

    status: str
    singles: tuple[ParsedSingle, ...] = ()
    nonce: bytes | None = None
    nonce_form: NonceForm | None = None
    responder_key_hash: bytes | None = None
    responder_name: x509.Name | None = None
    certs: tuple[x509.Certificate, ...] = ()
    produced_at: dt.datetime | None = None
    critical_extensions: tuple[str, ...] = ()
    signature_valid: bool | None = None
    signature_algorithm: str | None = None


def _verify(certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            algorithm = certificate.signature_hash_algorithm or hashes.SHA256()
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def parse_response(der: bytes, *, signer: x509.Certificate | None = None) -> ParsedResponse:
    """Decode ``der``; verify the signature with ``signer`` (or the first embedded cert)."""
    response = asn1_ocsp.OCSPResponse.load(der, strict=True)
    status = response["response_status"].native
    if status != "successful":
        return ParsedResponse(status=status)
    basic = response["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    singles = []
    for single in tbs["responses"]:
        raw_id = single["cert_id"]
        status_value = single["cert_status"]
        revoked_at = reason = None
        if status_value.name == "revoked":
            revoked_at = status_value.chosen["revocation_time"].native
            reason = status_value.chosen["revocation_reason"].native
        singles.append(
            ParsedSingle(
                cert_id=CertID.from_asn1(raw_id),
                status=status_value.name,
                this_update=single["this_update"].native,
                next_update=single["next_update"].native,
                revoked_at=revoked_at,
                reason=reason,
            )
        )
    nonce = nonce_form = None
    critical = []
    for extension in tbs["response_extensions"] or []:
        oid, is_critical, value = plain_extension(extension)
        if oid == _NONCE_OID:
            nonce, nonce_form = read_nonce(value)
        if is_critical:
            critical.append(oid)
    certs = tuple(x509.load_der_x509_certificate(c.dump()) for c in basic["certs"] or [])
    responder_id = tbs["responder_id"]
    key_hash = responder_id.chosen.native if responder_id.name == "by_key" else None
    name = _name(responder_id.chosen) if responder_id.name == "by_name" else None
    verifier = signer or (certs[0] if certs else None)
    valid = None
    if verifier is not None:
        valid = _verify(verifier, basic["signature"].native, tbs.dump())
    return ParsedResponse(
        status=status,
        singles=tuple(singles),
        nonce=nonce,
        nonce_form=nonce_form,
        responder_key_hash=key_hash,
        responder_name=name,
        certs=certs,
        produced_at=tbs["produced_at"].native,
        critical_extensions=tuple(critical),
        signature_valid=valid,
        signature_algorithm=basic["signature_algorithm"]["algorithm"].dotted,
    )


def _name(parsed: Any) -> x509.Name:
    attributes = []
    for rdn in parsed.chosen:
        for attribute in rdn:
            oid = x509.ObjectIdentifier(attribute["type"].dotted)
            attributes.append(x509.NameAttribute(oid, attribute["value"].native))
    return x509.Name(attributes)


def demo_spec(key: KeyType = KeyType.EC_P256) -> PKISpec:
    """The default PKI plus one leaf per status: revoked, on hold, unknown to the responder.

    ``server`` is good, ``revoked-leaf`` revoked (keyCompromise, 2 days before
    t0), ``held-leaf`` on hold, ``unknown-leaf`` has no record.
    """
    extra = tuple(
        CertSpec(name, issuer="intermediate", profile=Profile.LEAF)
        for name in ("revoked-leaf", "held-leaf", "unknown-leaf")
    )
    database = {
        "revoked-leaf": EntrySpec(
            RecordStatus.REVOKED, "keyCompromise", since=dt.timedelta(days=-2)
        ),
        "held-leaf": EntrySpec(RecordStatus.HOLD),
        "unknown-leaf": EntrySpec(RecordStatus.UNKNOWN),
    }
    return PKISpec.with_defaults(extra, key=key, database=database)
