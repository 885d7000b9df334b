"""Read certificates and captured OCSP messages for ``check`` and ``inspect``.

PEM (one or many certificates), DER, or base64 of DER (what a browser's
developer tools or a GET URL gives), also inside a copied HTTP message
(:mod:`lab.capture` says what a file is). Anything unreadable, or of
another kind than expected, is a :class:`~lab.errors.UsageError` naming the
file, what it is and what was expected: exit 2, one line.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from lab.capture import Capture, CaptureKind, load_certificates, sniff
from lab.errors import UsageError

__all__ = [
    "capture_der",
    "read_capture",
    "read_certificate",
    "read_certificates",
    "read_private_key",
]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def read_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate in a PEM file, or the one in a DER file."""
    data = _read(path)
    try:
        certs = load_certificates(data)
    except ValueError:
        found = sniff(data)
        what = "" if found.kind is CaptureKind.UNKNOWN else f"{found.describe()}, "
        raise UsageError(f"{path}: {what}expected a PEM or DER X.509 certificate") from None
    if not certs:
        raise UsageError(f"{path}: expected a PEM or DER X.509 certificate, found none")
    return certs


def read_certificate(path: str) -> x509.Certificate:
    """The first certificate of ``path``."""
    return read_certificates(path)[0]


def read_private_key(
    path: str,
) -> (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
):
    """An unencrypted private key (PEM or DER: PKCS#8, or the traditional forms)."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"{path}: expected an unencrypted PEM or DER private key ({exc})"
        ) from None
    if not isinstance(
        key,
        ec.EllipticCurvePrivateKey
        | rsa.RSAPrivateKey
        | ed25519.Ed25519PrivateKey
        | ed448.Ed448PrivateKey,
    ):
        raise UsageError(f"{path}: a {type(key).__name__}, expected an EC, RSA or EdDSA key")
    return key


def read_capture(path: str) -> Capture:
    """What ``path`` holds, and its DER (:func:`lab.capture.sniff`)."""
    return sniff(_read(path))


def capture_der(capture: Capture, path: str, expected: CaptureKind) -> bytes:
    """The DER of ``capture`` read as ``expected``; :class:`UsageError` naming what it is instead.

    DER that no loader recognised goes on to the expected kind's own parser,
    whose message says what is wrong with it.
    """
    if capture.der is not None and capture.kind in (expected, CaptureKind.UNKNOWN):
        return capture.der
    raise UsageError(
        f"{path}: {capture.describe()}, expected {expected.value} as DER, PEM or base64"
    )
