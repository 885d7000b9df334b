"""Was this certificate signed by that issuer? One answer for every algorithm the lab meets.

cryptography's ``verify_directly_issued_by`` refuses SHA-1, which long-lived
enterprise CAs still sign with (``sha1WithRSAEncryption``): the Delegated
Trust Model and ``check --chain`` would then miss a real issuer. Here the
signature is verified with the issuer's public key for RSA PKCS#1 v1.5 and
RSASSA-PSS, ECDSA (each with SHA-1/224/256/384/512), Ed25519 and Ed448
(RFC 5280 4.1.1.3, RFC 4055, RFC 5758, RFC 8410). SHA-1 is accepted and
reported (:attr:`CertSignature.sha1`) so that callers warn; MD5 and MD2 stay
refused (RFC 6151, RFC 6149).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

__all__ = ["SHA1_WARNING", "CertSignature", "issued_by"]

#: Hashes a certificate signature may use; SHA-1 with a warning (RFC 9155, CA/B Forum BR 7.1.3).
_ACCEPTED_HASHES = frozenset({"sha1", "sha224", "sha256", "sha384", "sha512"})
_OID = SignatureAlgorithmOID
#: Signature algorithms by OID, in asn1crypto's words (RFC 3279, 4055, 5758, 8410).
_ALGORITHMS = {
    **dict.fromkeys(
        (
            _OID.RSA_WITH_MD5,
            _OID.RSA_WITH_SHA1,
            _OID.RSA_WITH_SHA224,
            _OID.RSA_WITH_SHA256,
            _OID.RSA_WITH_SHA384,
            _OID.RSA_WITH_SHA512,
        ),
        "rsassa_pkcs1v15",
    ),
    _OID.RSASSA_PSS: "rsassa_pss",
    **dict.fromkeys(
        (
            _OID.ECDSA_WITH_SHA1,
            _OID.ECDSA_WITH_SHA224,
            _OID.ECDSA_WITH_SHA256,
            _OID.ECDSA_WITH_SHA384,
            _OID.ECDSA_WITH_SHA512,
        ),
        "ecdsa",
    ),
    _OID.ED25519: "ed25519",
    _OID.ED448: "ed448",
}
_PKCS1 = padding.PKCS1v15()
#: What callers say of an accepted SHA-1 signature.
SHA1_WARNING = "signed with SHA-1 (deprecated, RFC 9155 / CA/B Forum)"


@dataclass(frozen=True)
class CertSignature:
    """Whether ``cert`` verifies as issued by ``issuer``, and with what (for warnings).

    ``algorithm`` uses asn1crypto's words, as :class:`~lab.validator.ParsedResponse`
    does: ``rsassa_pkcs1v15``, ``rsassa_pss``, ``ecdsa``, ``ed25519``, ``ed448``
    (empty when unknown); ``hash`` is the hash's name, None for EdDSA.
    """

    verified: bool
    algorithm: str = ""
    hash: str | None = None
    why: str = ""  # why it did not verify
    issuer_name_matches: bool = True  # False: not even a candidate (RFC 5280 6.1.3 (a)(4))

    @property
    def sha1(self) -> bool:
        """Verified, with SHA-1: accepted, and worth a warning."""
        return self.verified and self.hash == "sha1"


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> CertSignature:
    """RFC 5280 6.1.3 (a)(1)–(4) for one link: issuer name matches, issuer's key verifies."""
    if cert.issuer != issuer.subject:
        return CertSignature(False, why="another issuer name", issuer_name_matches=False)
    try:
        hash_ = cert.signature_hash_algorithm
        params = cert.signature_algorithm_parameters
        key = issuer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:  # MD2, an unknown algorithm, an odd key
        return CertSignature(False, why=f"unsupported signature or key ({exc})")
    hash_name = None if hash_ is None else hash_.name
    # The algorithm from the OID: cryptography gives no parameters for ECDSA-with-SHA1,
    # only the PSS parameters need reading (RFC 4055 3.1).
    algorithm = _ALGORITHMS.get(cert.signature_algorithm_oid, "")
    if hash_name is not None and hash_name not in _ACCEPTED_HASHES:
        return CertSignature(False, algorithm, hash_name, f"{hash_name} is refused (RFC 6151)")
    signature, data = cert.signature, cert.tbs_certificate_bytes
    try:
        if algorithm == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and hash_ is not None:
            if not isinstance(params, padding.PSS):
                return CertSignature(False, algorithm, hash_name, "unreadable PSS parameters")
            key.verify(signature, data, params, hash_)
        elif (
            algorithm == "rsassa_pkcs1v15"
            and isinstance(key, rsa.RSAPublicKey)
            and hash_ is not None
        ):
            key.verify(signature, data, _PKCS1, hash_)
        elif (
            algorithm == "ecdsa"
            and isinstance(key, ec.EllipticCurvePublicKey)
            and hash_ is not None
        ):
            key.verify(signature, data, ec.ECDSA(hash_))
        elif (algorithm == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey)) or (
            algorithm == "ed448" and isinstance(key, ed448.Ed448PublicKey)
        ):
            key.verify(signature, data)
        else:
            why = f"a {algorithm or 'unknown'} signature cannot come from a {type(key).__name__}"
            return CertSignature(False, algorithm, hash_name, why)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return CertSignature(False, algorithm, hash_name, "the signature does not verify")
    return CertSignature(True, algorithm, hash_name)
