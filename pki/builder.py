"""Build a :class:`PKI` from a :class:`PKISpec`: deterministic, in issuer order.

Byte-identical output needs three things: derived keys (:mod:`pki.keys`),
validity windows relative to a fixed t0, and deterministic signatures — RFC
6979 ECDSA (``ecdsa_deterministic``), PKCS#1 v1.5 for RSA and Ed25519, which
are deterministic by construction. That holds for every certificate hash,
SHA-1 for legacy CAs included (``signature_hash`` in :mod:`pki.spec`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from pki.errors import PKIError
from pki.file_certs import authority_key_id, read_cert_file
from pki.keys import PrivateKey, derive_key
from pki.legacy import sign_with_sha1
from pki.profiles import Resolved, extensions, resolve
from pki.spec import DEFAULT_BASE_URL, EPOCH, CertSpec, KeyType, PKISpec, Profile, SignatureHash

__all__ = ["PKI", "IssuedCert", "build_pki", "signature_hash", "subject_name"]


@dataclass(frozen=True)
class IssuedCert:
    """One built certificate with its key and what it was built from.

    ``key`` is None only for a certificate read from a file without its key
    (SCENARIOS.md ``cert_file`` without ``key_file``): the lab judges with it
    but cannot issue or sign with it.
    """

    name: str
    spec: CertSpec
    certificate: x509.Certificate
    key: PrivateKey | None
    resolved: Resolved

    @property
    def private_key(self) -> PrivateKey:
        """The certificate's key; :class:`PKIError` for a file certificate given without one."""
        if self.key is None:
            path = self.spec.from_file.path if self.spec.from_file else self.name
            raise PKIError(
                f"certificate {self.name!r} ({path}) came without its key (key_file): "
                "the lab cannot issue or sign with it"
            )
        return self.key

    @property
    def from_file(self) -> bool:
        """Whether the certificate was read from a file (``cert_file``), not made."""
        return self.spec.from_file is not None

    @property
    def issuer(self) -> str | None:
        return self.spec.issuer

    @property
    def profile(self) -> Profile:
        return self.spec.profile

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def is_ca(self) -> bool:
        return self.spec.profile is Profile.CA


@dataclass(frozen=True)
class PKI:
    """Every certificate of a scenario, by name, in build order."""

    spec: PKISpec
    t0: dt.datetime
    base_url: str
    certs: Mapping[str, IssuedCert]
    #: The ``leaf_namespace`` the leaves were built in (None: none, the plain names).
    leaf_namespace: str | None = None

    def __getitem__(self, name: str) -> IssuedCert:
        return self.certs[name]

    def __iter__(self) -> Iterator[IssuedCert]:
        return iter(self.certs.values())

    def __contains__(self, name: object) -> bool:
        return name in self.certs

    def chain(self, name: str) -> list[IssuedCert]:
        """``name`` and its issuers up to the self-signed one, leaf first."""
        out = [self.certs[name]]
        while out[-1].issuer is not None:
            out.append(self.certs[out[-1].issuer])
        return out

    def cas(self) -> list[IssuedCert]:
        return [c for c in self if c.is_ca]

    def issued_by(self, ca: str) -> list[IssuedCert]:
        """Certificates whose issuer is ``ca`` (a self-signed CA is not its own child)."""
        return [c for c in self if c.issuer == ca]


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The hash an issuer signs with: SHA-384 for P-384, none for Ed25519, else SHA-256."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def derived_serial(seed: bytes, name: str, namespace: str | None = None) -> int:
    """A positive 127-bit serial from the name (RFC 5280 4.1.2.2: at most 20 octets).

    ``namespace`` as in :func:`pki.keys.derive_key`: a serial of its own per namespace.
    """
    label = (
        f"ocsp-lab serial/{name}"
        if namespace is None
        else f"ocsp-lab namespaced serial/{len(namespace)}:{namespace}/{name}"
    )
    digest = hmac.new(seed, label.encode(), hashlib.sha256).digest()
    return (int.from_bytes(digest[:16], "big") >> 1) or 1


def _subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocsp-lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def subject_name(cert: CertSpec) -> x509.Name:
    """The subject the builder gives ``cert`` (a file certificate's is the file's)."""
    return _subject(cert.subject or cert.name)


def _build_order(spec: PKISpec) -> list[CertSpec]:
    by_name = {c.name: c for c in spec.certs}
    order: list[CertSpec] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(start: CertSpec) -> None:
        # Iterative (a chain may be thousands of CAs deep): walk up to the first
        # certificate already placed, then place the walked path root-first.
        path: list[CertSpec] = []
        cert: CertSpec | None = start
        while cert is not None and state.get(cert.name) != "done":
            if state.get(cert.name) == "visiting":
                raise PKIError(f"certificate {cert.name!r}: its issuer chain loops back to itself")
            state[cert.name] = "visiting"
            path.append(cert)
            if cert.issuer is None:
                break
            issuer = by_name.get(cert.issuer)
            if issuer is None:
                raise PKIError(f"certificate {cert.name!r}: issuer {cert.issuer!r} does not exist")
            if issuer.profile is not Profile.CA:
                raise PKIError(
                    f"certificate {cert.name!r}: issuer {cert.issuer!r} is not a CA "
                    f"(profile {issuer.profile.value!r})"
                )
            cert = issuer
        for placed in reversed(path):
            state[placed.name] = "done"
            order.append(placed)

    for cert in spec.certs:
        visit(cert)
    return order


#: A hash a certificate signature may use.
_CertHash = hashes.SHA1 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512

#: The hash objects of :class:`SignatureHash` (one table: the names are SCENARIOS.md's).
_HASHES: dict[SignatureHash, type[_CertHash]] = {
    SignatureHash.SHA1: hashes.SHA1,
    SignatureHash.SHA256: hashes.SHA256,
    SignatureHash.SHA384: hashes.SHA384,
    SignatureHash.SHA512: hashes.SHA512,
}


def hash_of(name: SignatureHash) -> hashes.HashAlgorithm:
    """The hash object a ``signature_hash`` name means (SCENARIOS.md; the same table)."""
    return _HASHES[name]()


def _certificate_hash(spec: PKISpec, cert: CertSpec, issuer_key: PrivateKey) -> _CertHash | None:
    """The hash ``cert``'s issuer signs it with (SCENARIOS.md ``signature_hash``).

    The certificate's own ``signature_hash``, else ``[pki].signature_hash``,
    else by the issuer's key (:func:`signature_hash`). An Ed25519 issuer has
    no hash to choose (RFC 8032 5.1.6: SHA-512 is part of the algorithm), so
    one asked for explicitly is an error; the ``[pki]`` default reaches only
    issuers that can take it (:func:`build_pki` refuses it with an Ed25519
    ``[pki].key``, where it could reach none of the default certificates).
    """
    is_ed25519 = isinstance(issuer_key, ed25519.Ed25519PrivateKey)
    if cert.signature_hash is not None:
        if is_ed25519:
            raise PKIError(
                f"certificate {cert.name!r}: signature_hash {cert.signature_hash.value!r} "
                f"cannot apply: its issuer {cert.issuer or cert.name!r} has an ed25519 key, "
                "whose signature has its hash built in"
            )
        return _HASHES[cert.signature_hash]()
    if spec.signature_hash is not None and not is_ed25519:
        return _HASHES[spec.signature_hash]()
    return signature_hash(issuer_key)


def _sign(
    builder: x509.CertificateBuilder,
    issuer_key: PrivateKey,
    algorithm: _CertHash | None,
) -> x509.Certificate:
    if isinstance(algorithm, hashes.SHA1):
        # cryptography's builder refuses SHA-1; pki.legacy signs it instead.
        return sign_with_sha1(builder, issuer_key)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        # RFC 6979: no per-signature randomness, so the bytes never change.
        return builder.sign(issuer_key, algorithm, ecdsa_deterministic=True)
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        # PKCS#1 v1.5 (RFC 8017 8.2) has no randomness, whatever the hash.
        return builder.sign(issuer_key, algorithm)
    return builder.sign(issuer_key, None)


def build_pki(
    spec: PKISpec | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    t0: dt.datetime = EPOCH,
    leaf_namespace: str | None = None,
) -> PKI:
    """Build every certificate of ``spec`` (the default PKI when omitted).

    ``base_url`` is what ``ocsp_url = "lab"`` becomes; ``t0`` anchors every
    validity window. Same arguments, same bytes.

    ``leaf_namespace`` gives every certificate of profile ``leaf`` a key and a
    derived serial of its own in that namespace, while CAs and responder
    certificates keep the ones of their plain names. A relying party that
    trusts the CAs once then meets a new leaf (a new CertID, RFC 6960 4.1.1)
    in each namespace, so no OCSP answer it cached for one applies to another.
    An explicit ``serial`` still wins.
    """
    spec = spec or PKISpec()
    if spec.signature_hash is not None and spec.key is KeyType.ED25519:
        raise PKIError(
            f"pki: signature_hash {spec.signature_hash.value!r} cannot apply to key "
            "'ed25519', whose signature has its hash built in"
        )
    built: dict[str, IssuedCert] = {}
    for cert in _build_order(spec):
        if cert.from_file is not None:
            signed_by = built[cert.issuer].certificate if cert.issuer is not None else None
            certificate, file_key, facts = read_cert_file(cert, cert.from_file, signed_by)
            built[cert.name] = IssuedCert(cert.name, cert, certificate, file_key, facts)
            continue
        namespace = leaf_namespace if cert.profile is Profile.LEAF else None
        key = derive_key(spec.seed, cert.name, cert.key or spec.key, namespace)
        issuer = built[cert.issuer] if cert.issuer is not None else None
        issuer_key = issuer.private_key if issuer else key
        subject = _subject(cert.subject or cert.name)
        resolved = resolve(cert, t0=t0, base_url=base_url)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.certificate.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(cert.serial or derived_serial(spec.seed, cert.name, namespace))
            .not_valid_before(resolved.not_before)
            .not_valid_after(resolved.not_after)
        )
        for extension, critical in extensions(cert, resolved, key, issuer_key):
            if issuer is not None and issuer.from_file:
                # RFC 5280 4.2.1.1: keyIdentifier is the issuer's subjectKeyIdentifier, which
                # a field CA may have computed otherwise than the lab's SHA-1 of the key.
                extension = authority_key_id(issuer.certificate, extension)
            builder = builder.add_extension(extension, critical=critical)
        algorithm = _certificate_hash(spec, cert, issuer_key)
        built[cert.name] = IssuedCert(
            cert.name, cert, _sign(builder, issuer_key, algorithm), key, resolved
        )
    return PKI(spec=spec, t0=t0, base_url=base_url, certs=built, leaf_namespace=leaf_namespace)
