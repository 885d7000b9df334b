"""Certificate facts: what the checks read of one certificate, each worked out once.

They are pure functions of the certificate's bytes, so a certificate seen
again (the same responder answering again) costs a dictionary look-up. The
bounded memo is a :class:`FactsCache` object; the validator uses one,
:data:`FACTS`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from typing import TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from lab.evidence import CertValidity
from lab.validator.certsig import CertSignature, issued_by
from pki.certid import CERTID_HASHES, issuer_key_hash

__all__ = [
    "FACTS",
    "CertFacts",
    "FactsCache",
    "cert_validity",
    "clear_memos",
    "subject_public_key_bits",
]


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


class CertFacts:
    """What the checks read of one certificate, each worked out once, when first needed.

    Its subject, key, key and name hashes, EKU, nocheck, validity period,
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
        self._issued_by: dict[bytes, CertSignature] = {}
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
            except (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension):
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

    def same_subject(self, other: CertFacts) -> bool:
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

    def issued_by(self, ca: CertFacts) -> CertSignature:
        """RFC 6960 4.2.2.2: issuer name matches and the CA's key verifies the signature."""
        signature = self._issued_by.get(ca.der)
        if signature is None:
            signature = self._issued_by[ca.der] = issued_by(self.cert, ca.cert)
        return signature


_K = TypeVar("_K")


_V = TypeVar("_V")


class FactsCache:
    """Facts by certificate bytes (embedded certificates) and by certificate object.

    Also the byName ResponderIDs read for RFC 5280 7.1 comparison. Bounded,
    oldest first out. Safe under threads: a race computes twice.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._by_der: dict[bytes, CertFacts] = {}
        self._by_cert: dict[x509.Certificate, CertFacts] = {}
        self._names: dict[bytes, asn1_x509.Name] = {}

    def _remember(self, memo: dict[_K, _V], key: _K, value: _V) -> _V:
        if len(memo) >= self._size:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                del memo[next(iter(memo))]
        memo[key] = value
        return value

    def asn1_name(self, der: bytes) -> asn1_x509.Name:
        """The Name ``der`` as asn1crypto reads it (it compares names as RFC 5280 7.1 does)."""
        name = self._names.get(der)
        if name is None:
            name = self._remember(self._names, der, asn1_x509.Name.load(der))
        return name

    def from_der(self, der: bytes) -> CertFacts:
        """Facts of the certificate ``der``; ValueError if cryptography cannot read it."""
        facts = self._by_der.get(der)
        if facts is None:
            cert = x509.load_der_x509_certificate(der)
            facts = self._remember(self._by_der, der, CertFacts(cert, der))
        return facts

    def read(self, cert: x509.Certificate, der: bytes) -> CertFacts:
        """Facts of ``cert`` just read from ``der`` (its bytes as received)."""
        facts = self._by_der.get(der)
        if facts is None:
            facts = self._remember(self._by_der, der, CertFacts(cert, der))
        return facts

    def of(self, cert: x509.Certificate) -> CertFacts:
        """Facts of ``cert`` (looked up by object first, then by its bytes)."""
        facts = self._by_cert.get(cert)
        if facts is None:
            der = cert.public_bytes(serialization.Encoding.DER)
            facts = self._by_der.get(der) or self._remember(self._by_der, der, CertFacts(cert, der))
            self._remember(self._by_cert, cert, facts)
        return facts

    def clear(self) -> None:
        self._by_der.clear()
        self._by_cert.clear()
        self._names.clear()


#: The validator's one facts memo.
FACTS = FactsCache()


def cert_validity(cert: x509.Certificate | None, now: dt.datetime) -> CertValidity:
    """The certificate's validity period at ``now`` (a policy row of its own)."""
    if cert is None:
        return CertValidity.VALID
    return FACTS.of(cert).validity(now)


def clear_memos() -> None:
    """Forget every certificate fact (benchmarks of a first-time check; tests)."""
    FACTS.clear()
