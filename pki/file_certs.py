"""Certificates read from files (SCENARIOS.md ``cert_file``, ``key_file``), not made.

A customer's CA, a product's own certificate, a legacy SHA-1 CA: the field
material a support engineer is sent. The scenario loader reads and checks the
files (one-line errors naming the scenario file and key) and hands
:class:`pki.spec.CertFile` bytes over; this module turns them into what the
builder makes of a generated certificate — the certificate, its key when one
was given, and its :class:`~pki.profiles.Resolved` facts, taken from the file
rather than from profile defaults — and checks the one thing only a build can
check: that the issuer the loader named by its distinguished name really
signed it (the lab's own CAs exist only once the lab secret has made their
keys).
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from pki.errors import PKIError
from pki.keys import PrivateKey
from pki.profiles import Resolved
from pki.spec import CertFile, CertSpec

#: The keys the lab signs with (pki.keys.PrivateKey).
_SIGNING_KEYS = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)

__all__ = ["authority_key_id", "read_cert_file", "signed_by"]


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _ocsp_url(cert: x509.Certificate) -> str | None:
    aia = _extension(cert, x509.AuthorityInformationAccess)
    if not isinstance(aia, x509.AuthorityInformationAccess):
        return None
    for access in aia:
        if access.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            access.access_location, x509.UniformResourceIdentifier
        ):
            return access.access_location.value
    return None


def file_facts(cert: x509.Certificate) -> Resolved:
    """What the file says of the things a profile would otherwise decide."""
    eku = _extension(cert, x509.ExtendedKeyUsage)
    san = _extension(cert, x509.SubjectAlternativeName)
    return Resolved(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        eku=tuple(eku) if isinstance(eku, x509.ExtendedKeyUsage) else (),
        nocheck=_extension(cert, x509.OCSPNoCheck) is not None,
        ocsp_url=_ocsp_url(cert),
        san=tuple(san) if isinstance(san, x509.SubjectAlternativeName) else (),
    )


def _key(spec: CertSpec, material: CertFile) -> PrivateKey | None:
    if material.key is None:
        return None
    key = serialization.load_der_private_key(material.key, password=None)
    if not isinstance(key, _SIGNING_KEYS):
        # The loader refuses other kinds; a CertFile made by hand may still hold one.
        raise PKIError(f"certificate {spec.name!r}: key_file holds a {type(key).__name__}")
    return key


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert`` (RFC 5280 6.1.3 (a)(1)), SHA-1 included.

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 signatures,
    which a legacy field CA still makes (:mod:`pki.legacy` makes them too):
    those are verified here with the issuer's key and the certificate's own
    hash, PKCS#1 v1.5 (RFC 3279 2.2.1) or ECDSA (RFC 3279 2.2.3).
    """
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass  # not the issuer's name, or an algorithm cryptography refuses: SHA-1 below
    if cert.issuer != issuer.subject or not isinstance(cert.signature_hash_algorithm, hashes.SHA1):
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(
                cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def read_cert_file(
    spec: CertSpec, material: CertFile, issuer: x509.Certificate | None
) -> tuple[x509.Certificate, PrivateKey | None, Resolved]:
    """The certificate of ``material``, its key, and its facts; ``issuer`` must have signed it.

    ``issuer`` is the certificate of ``spec.issuer`` as built (None when the
    file is self-signed or its issuer is no certificate of the scenario). A
    name whose key did not sign the file — a lab CA of the same name built
    from another lab secret — is a :class:`PKIError`.
    """
    certificate = x509.load_der_x509_certificate(material.certificate)
    if issuer is not None and not signed_by(certificate, issuer):
        raise PKIError(
            f"certificate {spec.name!r} ({material.path}) names {spec.issuer!r} as its "
            f"issuer ({issuer.subject.rfc4514_string()}), but that certificate's key did "
            "not sign it (expected the file's real issuer: made by another lab secret?)"
        )
    return certificate, _key(spec, material), file_facts(certificate)


def authority_key_id(issuer: x509.Certificate, extension: x509.ExtensionType) -> x509.ExtensionType:
    """``extension``, with an AuthorityKeyIdentifier taken from ``issuer``'s SKI when it has one.

    RFC 5280 4.2.1.1: the keyIdentifier of a certificate's AKI is its issuer's
    subjectKeyIdentifier. The lab computes both as SHA-1 of the key (RFC 5280
    4.2.1.2 method 1); a field CA may have used another method, and a path
    builder such as OpenSSL's matches the two as octets.
    """
    if not isinstance(extension, x509.AuthorityKeyIdentifier):
        return extension
    ski = _extension(issuer, x509.SubjectKeyIdentifier)
    if not isinstance(ski, x509.SubjectKeyIdentifier):
        return extension
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
