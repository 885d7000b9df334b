"""Sign a product's certificate signing request with a lab CA (issue 14, "Sign a product's CSR").

A product that must keep its own key sends a CSR (PKCS #10, RFC 2986); the
lab issues its certificate as it issues its own leaves (:mod:`pki.profiles`
words): the subject and the subjectAltName come from the CSR, everything else
from the lab — basicConstraints CA false, keyUsage, the profile's EKU, the
key identifiers, and the AIA OCSP URL of the lab (``pki.base_url``), so the
product asks the lab about it.

The CSR is checked first: its signature must verify with its own public key
(RFC 2986 4.2, proof of possession), and nothing else it asks for is copied:
a CSR cannot make itself a CA, or pick its key usage. The serial is random
(RFC 5280 4.1.2.2, positive, at most 20 octets): signing the same CSR twice
gives two certificates, never two with one serial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from pki.builder import PKI, _sign, signature_hash
from pki.errors import PKIError

__all__ = ["SignProfile", "SignedCert", "load_csr", "sign_csr"]

#: How long a signed certificate is valid, at most (never past its issuer's notAfter).
LIFETIME = dt.timedelta(days=365)
#: notBefore this long before ``now``: a product whose clock is a little behind accepts it.
_BACKDATE = dt.timedelta(hours=1)


class SignProfile(StrEnum):
    """What the certificate is for: its extendedKeyUsage (RFC 5280 4.2.1.12)."""

    SERVER = "server"  # serverAuth and clientAuth, as the lab's own server leaf (mutual TLS)
    CLIENT = "client"  # clientAuth only


_EKU = {
    SignProfile.SERVER: [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
    SignProfile.CLIENT: [ExtendedKeyUsageOID.CLIENT_AUTH],
}


@dataclass(frozen=True)
class SignedCert:
    """The certificate made from a CSR, and the lab CA that issued it."""

    certificate: x509.Certificate
    issuer: str

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


def load_csr(data: bytes) -> x509.CertificateSigningRequest:
    """A CSR from PEM or DER; :class:`PKIError` when it is none, or its signature fails."""
    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError:
        raise PKIError("expected a certificate signing request (PKCS #10, PEM or DER)") from None
    try:
        valid = csr.is_signature_valid
    except Exception:  # an algorithm cryptography cannot verify: not proven either
        valid = False
    if not valid:
        raise PKIError(
            "the CSR's signature does not verify with its own public key "
            "(RFC 2986: no proof of possession of the key); refused"
        )
    return csr


def _key_usage(public: object) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        # RSA key transport for TLS servers; EC and EdDSA keys never encipher.
        key_encipherment=isinstance(public, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def sign_csr(
    pki: PKI,
    csr: x509.CertificateSigningRequest,
    *,
    issuer: str,
    profile: SignProfile,
    now: dt.datetime,
) -> SignedCert:
    """The certificate for ``csr``, issued by lab CA ``issuer`` at ``now`` (time is injected)."""
    if issuer not in pki or not pki[issuer].is_ca:
        cas = ", ".join(ca.name for ca in pki.cas())
        raise PKIError(f"--issuer {issuer!r}: expected a CA of the lab ({cas})")
    ca = pki[issuer]
    public = csr.public_key()
    if not isinstance(
        public,
        rsa.RSAPublicKey
        | ec.EllipticCurvePublicKey
        | ed25519.Ed25519PublicKey
        | ed448.Ed448PublicKey,
    ):
        raise PKIError("the CSR's key is of a kind a certificate cannot hold here")
    if len(csr.subject) == 0:
        raise PKIError("the CSR has an empty subject: expected at least a CN")
    not_after = min(now + LIFETIME, ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(public), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage(_EKU[profile]), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(pki.base_url),
                    )
                ]
            ),
            critical=False,
        )
    )
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        san = None
    except ValueError as exc:  # an extension request cryptography cannot parse
        raise PKIError(f"the CSR's requested extensions are unreadable ({exc})") from None
    if san is not None:
        # RFC 5280 4.2.1.6: critical only when the subject is empty (refused above).
        builder = builder.add_extension(san.value, critical=False)
    certificate = _sign(builder, ca.private_key, signature_hash(ca.private_key))
    return SignedCert(certificate, issuer)
