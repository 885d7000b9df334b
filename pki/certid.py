"""The OCSP CertID (RFC 6960 4.1.1): its value, and how it is computed from an issuer.

issuerNameHash is the hash of the issuer's DER-encoded subject name;
issuerKeyHash the hash of the issuer's subjectPublicKey BIT STRING value —
"excluding the tag and length fields" and, as every implementation reads it,
the unused-bits octet. The responder (to find the CA a request asks about, to
echo and to bend CertIDs), the request builder and the validator (to match
SingleResponses) all use this one :class:`CertID`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

__all__ = ["CERTID_HASHES", "CertID", "issuer_hashes", "issuer_key_hash", "issuer_name_hash"]

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
    """issuerNameHash: the hash of the issuer's DER subject."""
    return _hash(algorithm, issuer.subject.public_bytes())


def issuer_key_hash(issuer: x509.Certificate, algorithm: str = "sha1") -> bytes:
    """issuerKeyHash: the hash of the issuer's subjectPublicKey bits."""
    spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bit_string = asn1_keys.PublicKeyInfo.load(spki)["public_key"]
    return _hash(algorithm, bit_string.contents[1:])  # drop the unused-bits octet


def issuer_hashes(issuer: x509.Certificate, algorithm: str = "sha1") -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of ``issuer`` with ``algorithm``."""
    return issuer_name_hash(issuer, algorithm), issuer_key_hash(issuer, algorithm)


class _CryptographyCertID(Protocol):
    """What cryptography's OCSPRequest and OCSPSingleResponse both say of their CertID."""

    @property
    def hash_algorithm(self) -> hashes.HashAlgorithm: ...
    @property
    def issuer_name_hash(self) -> bytes: ...
    @property
    def issuer_key_hash(self) -> bytes: ...
    @property
    def serial_number(self) -> int: ...


@dataclass(frozen=True)
class CertID:
    """RFC 6960 4.1.1 CertID, with the hash algorithm by asn1crypto name (``sha1`` …)."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int

    @classmethod
    def for_cert(
        cls, cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "sha1"
    ) -> CertID:
        """The CertID of ``cert`` issued by ``issuer`` (ValueError for an unknown hash)."""
        return cls.for_serial(cert.serial_number, issuer, hash_algorithm)

    @classmethod
    def for_serial(
        cls, serial: int, issuer: x509.Certificate, hash_algorithm: str = "sha1"
    ) -> CertID:
        """The CertID of serial ``serial`` of ``issuer``."""
        if hash_algorithm not in CERTID_HASHES:
            raise ValueError(
                f"hash_algorithm must be one of {', '.join(CERTID_HASHES)}, not {hash_algorithm!r}"
            )
        name_hash, key_hash = issuer_hashes(issuer, hash_algorithm)
        return cls(hash_algorithm, name_hash, key_hash, serial)

    @classmethod
    def from_asn1(cls, value: asn1_ocsp.CertId) -> CertID:
        """From asn1crypto; ValueError when serialNumber is not an INTEGER."""
        serial = value["serial_number"].native
        if not isinstance(serial, int):
            raise ValueError("CertID serialNumber is not an INTEGER")
        return cls(
            hash_algorithm=str(value["hash_algorithm"]["algorithm"].native),
            issuer_name_hash=bytes(value["issuer_name_hash"].native),
            issuer_key_hash=bytes(value["issuer_key_hash"].native),
            serial=serial,
        )

    @classmethod
    def from_cryptography(cls, value: _CryptographyCertID) -> CertID:
        """From a cryptography OCSPRequest or OCSPSingleResponse (its one CertID)."""
        return cls(
            hash_algorithm=value.hash_algorithm.name,  # cryptography's names are asn1crypto's
            issuer_name_hash=value.issuer_name_hash,
            issuer_key_hash=value.issuer_key_hash,
            serial=value.serial_number,
        )

    def to_asn1(self) -> asn1_ocsp.CertId:
        """This CertID as an asn1crypto value.

        asn1crypto writes the hash AlgorithmIdentifier's parameters as NULL,
        as OpenSSL does (RFC 3370 2.1 makes readers accept NULL or absent).
        """
        return asn1_ocsp.CertId(
            {
                "hash_algorithm": {"algorithm": self.hash_algorithm},
                "issuer_name_hash": self.issuer_name_hash,
                "issuer_key_hash": self.issuer_key_hash,
                "serial_number": self.serial,
            }
        )
