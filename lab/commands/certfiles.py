"""Read certificates and captured OCSP messages for ``check`` and ``inspect``.

PEM (one or many certificates), DER, or base64 of DER (what a browser's
developer tools or a GET URL gives). Anything unreadable is a
:class:`~lab.errors.UsageError` naming the file: exit 2, one line.
"""

from __future__ import annotations

import base64
import binascii
import re
import urllib.parse
from pathlib import Path

from cryptography import x509

from lab.errors import UsageError

__all__ = ["read_certificate", "read_certificates", "read_der"]

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None


def read_certificates(path: str) -> list[x509.Certificate]:
    """Every certificate in a PEM file, or the one in a DER file."""
    data = _read(path)
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise UsageError(f"{path}: expected a PEM or DER X.509 certificate") from None
    if not certs:
        raise UsageError(f"{path}: expected a PEM or DER X.509 certificate, found none")
    return certs


def read_certificate(path: str) -> x509.Certificate:
    """The first certificate of ``path``."""
    return read_certificates(path)[0]


def read_der(path: str, what: str) -> bytes:
    """DER from a file holding DER, PEM (any label) or base64 (also URL-encoded, GET style)."""
    data = _read(path)
    match = _PEM.search(data)
    if match:
        data = match.group(2)
    elif data[:1] == b"\x30":
        return data
    text = b"".join(data.split()).decode("ascii", "replace")
    candidates = [text]
    if text.startswith(("http://", "https://")):
        # An RFC 5019 GET URL: the request is the path, after any base path segments.
        segments = urllib.parse.urlsplit(text).path.lstrip("/").split("/")
        candidates = ["/".join(segments[i:]) for i in range(len(segments))]
    der = b""
    for candidate in candidates:
        candidate = urllib.parse.unquote(candidate)
        try:
            der = base64.b64decode(candidate + "=" * (-len(candidate) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if der[:1] == b"\x30":
            break
    if der[:1] != b"\x30":
        raise UsageError(f"{path}: expected {what} as DER, PEM or base64")
    return der
