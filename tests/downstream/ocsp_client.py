"""The downstream project's own code under test: a tiny OCSP client on urllib and cryptography."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp


class OcspError(Exception):
    """The responder did not give a successful answer."""


def ocsp_status(cert: Path, issuer: Path, url: str, timeout: float = 5) -> str:
    """``good`` / ``revoked`` / ``unknown``: what the responder at ``url`` says of ``cert``."""
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    ca = x509.load_pem_x509_certificate(issuer.read_bytes())
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, ca, hashes.SHA1()).build()
    http = urllib.request.Request(
        url,
        data=request.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
    )
    with urllib.request.urlopen(http, timeout=timeout) as answer:
        response = ocsp.load_der_ocsp_response(answer.read())
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(response.response_status.name)
    return response.certificate_status.name.lower()
