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

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.x509.oid import OCSPExtensionOID

from pki.certid import CertID
from responder.protocol import plain_extension, read_nonce

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
_NONCE_OID = OCSPExtensionOID.NONCE.dotted_string  # RFC 6960 4.4.1


#: The CertID asked about: :class:`pki.certid.CertID` (one CertID for the whole lab;
#: the name stays for the validator's code that reads "requested").
RequestedCertID = CertID


@dataclass(frozen=True)
class OCSPRequest:
    """A built request: its DER, the CertID asked about and the nonce sent (or None)."""

    der: bytes
    cert_id: CertID
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
            cert_id = CertID.from_asn1(tbs["request_list"][0]["req_cert"])
            nonce = None
            for extension in tbs["request_extensions"] or []:
                oid, _, value = plain_extension(extension)
                if oid == _NONCE_OID:
                    # RFC 9654 2.1 wraps it in an OCTET STRING; older clients send it raw
                    nonce = read_nonce(value)[0]
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"not a DER OCSPRequest ({exc})") from None
        return cls(der=der, cert_id=cert_id, nonce=nonce)


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
    cert_id = CertID.for_cert(cert, issuer, hash_algorithm)
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
