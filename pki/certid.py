"""The issuer half of an OCSP CertID (RFC 6960 4.1.1).

issuerNameHash is the hash of the issuer's DER-encoded subject name;
issuerKeyHash the hash of the issuer's subjectPublicKey BIT STRING value —
"excluding the tag and length fields" and, as every implementation reads it,
the unused-bits octet. Both the responder (to find the CA a request asks
about) and the validator (to match SingleResponses) need exactly this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["CERTID_HASHES", "issuer_key_hash", "issuer_name_hash"]

#: CertID hash algorithms by asn1crypto name (RFC 6960 4.1.1 allows any; RFC 5019 says SHA-1).
CERTID_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


def _hash(algorithm: str, data: bytes) -> bytes:
    try:
        return CERTID_HASHES[algorithm](data).digest()
    except KeyError:
        raise ValueError(
            f"CertID hash {algorithm!r} is not one of {', '.join(CERTID_HASHES)}"
        ) from None


def issuer_name_hash(issuer: x509.Certificate, algorithm: str = "sha1") -> bytes:
    return _hash(algorithm, issuer.subject.public_bytes())


def issuer_key_hash(issuer: x509.Certificate, algorithm: str = "sha1") -> bytes:
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bit_string = asn1_keys.PublicKeyInfo.load(spki)["public_key"]
    return _hash(algorithm, bit_string.contents[1:])  # drop the unused-bits octet
