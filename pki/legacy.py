"""Certificates signed with SHA-1, which cryptography's builder no longer makes.

Legacy field CAs still issue certificates signed with sha1WithRSAEncryption
or ecdsa-with-SHA1, and a lab that reproduces them must make such
certificates. cryptography (since 50) refuses SHA-1 in
``CertificateBuilder.sign`` but still signs raw data with it, so this module
does what cryptography stops short of, with asn1crypto (never hand-rolled
DER): build the certificate as usual with a stand-in hash, put the SHA-1
AlgorithmIdentifier in both places RFC 5280 4.1.1.2 requires it (the
certificate's ``signatureAlgorithm`` and the TBS ``signature`` field), and
sign the new TBS DER with the issuer's key. The output is deterministic like
the rest of the PKI: PKCS#1 v1.5 (RFC 8017 8.2) has no randomness, and ECDSA
uses RFC 6979 nonces.
"""

from __future__ import annotations

from asn1crypto import algos as asn1_algos
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from pki.errors import PKIError
from pki.keys import PrivateKey

__all__ = ["sign_with_sha1"]


def _algorithm(issuer_key: PrivateKey) -> asn1_algos.SignedDigestAlgorithm:
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        # RFC 3279 2.2.1: sha1WithRSAEncryption, parameters NULL.
        return asn1_algos.SignedDigestAlgorithm(
            {"algorithm": "sha1_rsa", "parameters": core.Null()}
        )
    # RFC 3279 2.2.3: ecdsa-with-SHA1, parameters absent.
    return asn1_algos.SignedDigestAlgorithm({"algorithm": "sha1_ecdsa"})


def _signature(issuer_key: PrivateKey, tbs_der: bytes) -> bytes:
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        return issuer_key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA1())
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    return issuer_key.sign(tbs_der, ec.ECDSA(hashes.SHA1(), deterministic_signing=True))


def sign_with_sha1(builder: x509.CertificateBuilder, issuer_key: PrivateKey) -> x509.Certificate:
    """``builder``'s certificate, signed by ``issuer_key`` (RSA or ECDSA) with SHA-1."""
    if not isinstance(issuer_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PKIError("a SHA-1 certificate signature needs an RSA or EC issuer key")
    # The stand-in signature only gives a complete certificate to take the TBS
    # from; its AlgorithmIdentifier and signature are both replaced below.
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        draft = builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    else:
        draft = builder.sign(issuer_key, hashes.SHA256())
    certificate = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    tbs = certificate["tbs_certificate"]
    tbs["signature"] = _algorithm(issuer_key)
    tbs_der = tbs.dump()
    signed = asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": _algorithm(issuer_key),
            "signature_value": _signature(issuer_key, tbs_der),
        }
    )
    return x509.load_der_x509_certificate(signed.dump())
