"""Build an OCSP request (RFC 6960 4.1) and its RFC 5019 GET URL.

One certificate per request, a CertID with SHA-1 (RFC 5019's default) or
SHA-256, and a 32-octet nonce unless disabled (RFC 8954 / RFC 9654). DER
comes from asn1crypto; nothing here does I/O.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from dataclasses import dataclass

from asn1crypto import algos as asn1_algos
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509

from pki.certid import CERTID_HASHES, issuer_key_hash, issuer_name_hash

__all__ = [
    "NONCE_LENGTH",
    "OCSPRequest",
    "RequestedCertID",
    "build_request",
    "get_url",
    "new_nonce",
]

#: RFC 8954 2.1: "the nonce ... MUST be 32 octets" for a client that sends one.
NONCE_LENGTH = 32


@dataclass(frozen=True)
class RequestedCertID:
    """A CertID (RFC 6960 4.1.1) as plain values."""

    hash_algorithm: str  # asn1crypto name: sha1, sha256, …
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int

    @classmethod
    def for_cert(
        cls, cert: x509.Certificate, issuer: x509.Certificate, hash_algorithm: str = "sha1"
    ) -> RequestedCertID:
        """The CertID of ``cert`` issued by ``issuer`` with ``hash_algorithm``."""
        if hash_algorithm not in CERTID_HASHES:
            raise ValueError(
                f"hash_algorithm must be one of {', '.join(CERTID_HASHES)}, not {hash_algorithm!r}"
            )
        return cls(
            hash_algorithm=hash_algorithm,
            issuer_name_hash=issuer_name_hash(issuer, hash_algorithm),
            issuer_key_hash=issuer_key_hash(issuer, hash_algorithm),
            serial=cert.serial_number,
        )

    def to_asn1(self) -> asn1_ocsp.CertId:
        return asn1_ocsp.CertId(
            {
                "hash_algorithm": asn1_algos.DigestAlgorithm({"algorithm": self.hash_algorithm}),
                "issuer_name_hash": self.issuer_name_hash,
                "issuer_key_hash": self.issuer_key_hash,
                "serial_number": self.serial,
            }
        )

    @classmethod
    def from_asn1(cls, cert_id: asn1_ocsp.CertId) -> RequestedCertID:
        return cls(
            hash_algorithm=cert_id["hash_algorithm"]["algorithm"].native,
            issuer_name_hash=cert_id["issuer_name_hash"].native,
            issuer_key_hash=cert_id["issuer_key_hash"].native,
            serial=cert_id["serial_number"].native,
        )


@dataclass(frozen=True)
class OCSPRequest:
    """A built request: its DER, the CertID asked about and the nonce sent (or None)."""

    der: bytes
    cert_id: RequestedCertID
    nonce: bytes | None

    @property
    def hash_algorithm(self) -> str:
        return self.cert_id.hash_algorithm

    @classmethod
    def parse(cls, der: bytes) -> OCSPRequest:
        """Read a captured request (its first CertID and its nonce); ValueError if unreadable."""
        try:
            request = asn1_ocsp.OCSPRequest.load(der, strict=True)
            tbs = request["tbs_request"]
            cert_id = RequestedCertID.from_asn1(tbs["request_list"][0]["req_cert"])
            nonce = None
            for extension in tbs["request_extensions"] or []:
                if extension["extn_id"].dotted == "1.3.6.1.5.5.7.48.1.2":
                    nonce = _nonce_value(extension["extn_value"].contents)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"not a DER OCSPRequest ({exc})") from None
        return cls(der=der, cert_id=cert_id, nonce=nonce)


def _nonce_value(extn_value: bytes) -> bytes:
    """The nonce inside extnValue: RFC 9654 wraps it in an OCTET STRING; some don't."""
    from asn1crypto import core

    try:
        inner = core.OctetString.load(extn_value, strict=True)
        return bytes(inner.native)
    except ValueError:
        return extn_value


def new_nonce() -> bytes:
    """32 random octets (RFC 8954 2.1)."""
    return os.urandom(NONCE_LENGTH)


def build_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    hash_algorithm: str = "sha1",
    nonce: bytes | None = None,
) -> OCSPRequest:
    """An unsigned OCSPRequest for ``cert``; ``nonce`` goes in requestExtensions.

    RFC 6960 4.4.1: the nonce extension's extnValue holds an OCTET STRING
    (RFC 9654 made that encoding explicit), which asn1crypto's ``nonce``
    spec produces.
    """
    cert_id = RequestedCertID.for_cert(cert, issuer, hash_algorithm)
    tbs: dict[str, object] = {"request_list": [{"req_cert": cert_id.to_asn1()}]}
    if nonce is not None:
        if not 1 <= len(nonce) <= 128:  # RFC 9654 2.1: 1 to 128 octets
            raise ValueError(f"nonce must be 1 to 128 octets, not {len(nonce)}")
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    der = asn1_ocsp.OCSPRequest({"tbs_request": tbs}).dump()
    return OCSPRequest(der=der, cert_id=cert_id, nonce=nonce)


def get_url(base_url: str, der: bytes) -> str:
    """RFC 5019 5 / RFC 6960 A.1: the base64 DER, URL-encoded, appended to the URL.

    ``+``, ``/`` and ``=`` are %-escaped so the path survives every proxy
    (BoringSSL CreateOCSPGetURLTest).
    """
    encoded = urllib.parse.quote(base64.b64encode(der).decode("ascii"), safe="")
    return base_url + ("" if base_url.endswith("/") else "/") + encoded
