"""Lookalike signers: certificates that resemble an authorized OCSP signer and are not one.

"Never trust a forgery" (DESIGN.md) rests on RFC 6960 4.2.2.2: the signer is
the issuing CA itself (same key *and* same name), or a certificate issued
directly by it (its key verifies the signature) that carries id-kp-OCSPSigning
and is valid now. Each lookalike here keeps all of that but one thing, and
signs with its own key, so its signature always verifies: only the signer
rules can refuse it. Used by the rules, differential and property tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pki import PKI, CertSpec, Profile

__all__ = ["LOOKALIKES", "LOOKALIKE_SPECS", "SAME_KEY", "ForgedSigner", "same_key_other_name"]

#: Name → what it keeps of an authorized signer and what it lacks.
LOOKALIKES: dict[str, str] = {
    "lookalike-ca-name": "self-signed, the issuing CA's name, another key, id-kp-OCSPSigning",
    "lookalike-ca-name-ca": "a self-signed CA with the issuing CA's name and another key",
    "lookalike-sibling-ca": "a CA issued by the root with the issuing CA's name, another key",
    "lookalike-sibling-responder": "an OCSP signer issued by that sibling (issuer name matches)",
    "lookalike-no-eku": "issued by the issuing CA, without id-kp-OCSPSigning",
    "lookalike-expired": "issued by the issuing CA, id-kp-OCSPSigning, expired",
    "lookalike-not-yet-valid": "issued by the issuing CA, id-kp-OCSPSigning, not yet valid",
    "server": "the leaf itself: issued by the issuing CA, serverAuth/clientAuth only",
}
#: The lookalike built outside the spec: the issuing CA's own key under another name.
SAME_KEY = "lookalike-same-key"

LOOKALIKE_SPECS: tuple[CertSpec, ...] = (
    CertSpec("lookalike-ca-name", profile=Profile.OCSP_RESPONDER, subject="intermediate"),
    CertSpec("lookalike-ca-name-ca", profile=Profile.CA, subject="intermediate"),
    CertSpec("lookalike-sibling-ca", issuer="root", profile=Profile.CA, subject="intermediate"),
    CertSpec(
        "lookalike-sibling-responder", issuer="lookalike-sibling-ca", profile=Profile.OCSP_RESPONDER
    ),
    CertSpec(
        "lookalike-no-eku",
        issuer="intermediate",
        profile=Profile.OCSP_RESPONDER,
        eku=("serverAuth",),
    ),
    # Expired / not yet valid both at forge.NOW (t0 + 59 d) and at a calendar t0 later in the year.
    CertSpec(
        "lookalike-expired",
        issuer="intermediate",
        profile=Profile.OCSP_RESPONDER,
        valid_from=dt.timedelta(days=-30),
        valid_to=dt.timedelta(days=-2),
    ),
    CertSpec(
        "lookalike-not-yet-valid",
        issuer="intermediate",
        profile=Profile.OCSP_RESPONDER,
        valid_from=dt.timedelta(days=400),
        valid_to=dt.timedelta(days=800),
    ),
)


@dataclass(frozen=True)
class ForgedSigner:
    """A certificate and the key that signs with it: what ``forge(signer=...)`` reads."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def same_key_other_name(lab: PKI, ca: str = "intermediate") -> ForgedSigner:
    """The CA's own key in a self-signed OCSP signing certificate under another name.

    Its signatures verify with the CA's key, but it is neither the CA (another
    name: RFC 6960 4.2.2.2 case 1 wants the same key *and* name) nor issued by
    it (its issuer name is its own). Named byName it must be refused; byKey the
    ResponderID names the CA itself, which then is the signer.
    """
    issued = lab[ca]
    key = issued.private_key
    assert isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocsp-lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, SAME_KEY),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x5A3E)
        .not_valid_before(lab.t0 - dt.timedelta(days=1))
        .not_valid_after(lab.t0 + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
    )
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return ForgedSigner(builder.sign(key, digest), key)
