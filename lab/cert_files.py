"""Read a scenario's ``cert_file`` and ``key_file`` (SCENARIOS.md ``[[pki.cert]]``), checked.

The scenario loader (:mod:`lab.scenario`) calls these and turns a
:class:`CertFileError` into its one-line error naming the scenario file and
the key: a missing or unreadable file, something that is not a certificate
(or not a key), a bundle of several, a password-protected key, a key that
belongs to another certificate. What is read goes on as the plain bytes of
:class:`pki.spec.CertFile`: the certificate's DER and the key as unencrypted
PKCS#8 DER.
"""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from lab.capture import CaptureKind, load_certificates, sniff
from lab.validator import certsig

#: The keys the lab signs with (pki.keys.PrivateKey).
_SIGNING_KEYS = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)

__all__ = [
    "CertFileError",
    "is_self_signed",
    "issued_by",
    "profile_facts",
    "read_certificate_file",
    "read_key_file",
]

#: Certificates and keys are a few kilobytes; the cap keeps a wrong path from being read whole.
_MAX_BYTES = 1 << 20


class CertFileError(Exception):
    """A file that cannot be used; ``expected`` says what was expected and what was found."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _read(path: Path, what: str) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise CertFileError(f"{what}; {path} is not a regular file")
        with path.open("rb") as stream:
            data = stream.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise CertFileError(f"{what}; {path}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_BYTES:
        raise CertFileError(f"{what}; {path} is larger than {_MAX_BYTES // 1024} KiB")
    return data


def read_certificate_file(path: Path) -> x509.Certificate:
    """The one X.509 certificate of a PEM or DER file."""
    what = "a certificate file (PEM or DER, relative to the scenario file)"
    data = _read(path, what)
    try:
        certs = load_certificates(data)
    except ValueError:
        found = sniff(data)
        kind = "" if found.kind is CaptureKind.UNKNOWN else f" ({found.describe()})"
        raise CertFileError(f"{what}; {path} holds no X.509 certificate{kind}") from None
    if len(certs) != 1:
        # A bundle: which one is meant is the scenario's to say, one [[pki.cert]] each.
        raise CertFileError(
            f"{what} holding one certificate; {path} holds {len(certs)} "
            "(give each its own [[pki.cert]] and file)"
        )
    return certs[0]


def _public_der(key: object) -> bytes:
    public = key.public_key()  # type: ignore[attr-defined]
    der: bytes = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return der


def read_key_file(path: Path, certificate: x509.Certificate) -> bytes:
    """``certificate``'s unencrypted private key from a PEM or DER file, as PKCS#8 DER."""
    what = f"the unencrypted private key (PEM or DER) of {certificate.subject.rfc4514_string()}"
    data = _read(path, what)
    load = (
        serialization.load_pem_private_key
        if b"-----BEGIN" in data
        else serialization.load_der_private_key
    )
    try:
        key = load(data, password=None)
    except TypeError:
        # cryptography: "Password was not given but private key is encrypted".
        raise CertFileError(
            f"{what}; {path} is password-protected "
            "(decrypt a copy for the lab: openssl pkey -in KEY -out KEY.plain)"
        ) from None
    except (ValueError, UnicodeError):
        found = sniff(data)
        kind = "" if found.kind is CaptureKind.UNKNOWN else f" ({found.describe()})"
        raise CertFileError(f"{what}; {path} holds no private key{kind}") from None
    if not isinstance(key, _SIGNING_KEYS):
        raise CertFileError(
            f"{what}: an EC, RSA or Ed25519 key; {path} holds a {type(key).__name__}"
        )
    if _public_der(key) != _public_der(certificate):
        raise CertFileError(f"{what}; {path} holds the key of another certificate")
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return None  # a malformed extension: judged by the validator, not here


def profile_facts(cert: x509.Certificate) -> tuple[bool, bool]:
    """(a CA: basicConstraints cA, an OCSP signer: EKU OCSPSigning), as the file says."""
    constraints = _extension(cert, x509.BasicConstraints)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    is_ca = isinstance(constraints, x509.BasicConstraints) and constraints.ca
    signs_ocsp = isinstance(eku, x509.ExtendedKeyUsage) and (
        x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING in eku
    )
    return is_ca, signs_ocsp


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``cert``: its name, and its key signed it (SHA-1 too)."""
    return certsig.issued_by(cert, issuer).verified


def is_self_signed(cert: x509.Certificate) -> bool:
    """A certificate its own key signed, under its own name (RFC 5280 3.2, 6.1)."""
    return issued_by(cert, cert)
