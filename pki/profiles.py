"""Certificate profiles: which extensions each kind of certificate carries.

One shared builder (:mod:`pki.builder`) makes every certificate; a profile
only decides the extensions on top of it, as trustme does. Criticality follows
RFC 5280: basicConstraints and keyUsage critical (4.2.1.9, 4.2.1.3), the rest
not.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from pki.errors import PKIError
from pki.keys import PrivateKey
from pki.spec import LAB_URL, NO_URL, CertSpec, Profile

__all__ = ["EKU_NAMES", "Resolved", "extensions", "resolve"]

#: SCENARIOS.md EKU names and their OIDs.
EKU_NAMES: dict[str, x509.ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}

_DEFAULT_EKU = {
    Profile.CA: (),
    Profile.LEAF: ("serverAuth", "clientAuth"),
    Profile.OCSP_RESPONDER: ("OCSPSigning",),
}
_DEFAULT_SAN = {Profile.LEAF: ("localhost", "127.0.0.1")}
_DEFAULT_LIFETIME = {
    Profile.CA: dt.timedelta(days=3650),
    Profile.LEAF: dt.timedelta(days=365),
    Profile.OCSP_RESPONDER: dt.timedelta(days=365),
}
_DEFAULT_NOT_BEFORE = dt.timedelta(days=-1)


@dataclass(frozen=True)
class Resolved:
    """A :class:`CertSpec` with every default decided."""

    not_before: dt.datetime
    not_after: dt.datetime
    eku: tuple[x509.ObjectIdentifier, ...]
    nocheck: bool
    ocsp_url: str | None
    san: tuple[x509.GeneralName, ...]


def _eku_oid(name: str, cert: str) -> x509.ObjectIdentifier:
    if name in EKU_NAMES:
        return EKU_NAMES[name]
    try:
        return x509.ObjectIdentifier(name)
    except ValueError:
        raise PKIError(
            f"certificate {cert!r}: eku {name!r} is neither one of "
            f"{', '.join(EKU_NAMES)} nor a dotted OID"
        ) from None


def _general_name(entry: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(entry))
    except ValueError:
        return x509.DNSName(entry)


def resolve(spec: CertSpec, *, t0: dt.datetime, base_url: str) -> Resolved:
    """Apply the profile's defaults (SCENARIOS.md ``[[pki.cert]]``)."""
    valid_from = _DEFAULT_NOT_BEFORE if spec.valid_from is None else spec.valid_from
    valid_to = _DEFAULT_LIFETIME[spec.profile] if spec.valid_to is None else spec.valid_to
    if valid_to <= valid_from:
        raise PKIError(f"certificate {spec.name!r}: valid.to must come after valid.from")
    eku_names = _DEFAULT_EKU[spec.profile] if spec.eku is None else spec.eku
    url = spec.ocsp_url
    if url is None:
        url = LAB_URL if spec.issuer is not None else NO_URL
    if url == LAB_URL:
        url = base_url
    elif url == NO_URL:
        url = None
    san = _DEFAULT_SAN.get(spec.profile, ()) if spec.san is None else spec.san
    return Resolved(
        not_before=t0 + valid_from,
        not_after=t0 + valid_to,
        eku=tuple(_eku_oid(n, spec.name) for n in eku_names),
        nocheck=spec.profile is Profile.OCSP_RESPONDER if spec.nocheck is None else spec.nocheck,
        ocsp_url=url,
        san=tuple(_general_name(s) for s in san),
    )


def _key_usage(profile: Profile, key: PrivateKey) -> x509.KeyUsage:
    is_ca = profile is Profile.CA
    return x509.KeyUsage(
        # A CA keeps digitalSignature so it may sign OCSP answers itself
        # (RFC 6960 4.2.2.2, first case).
        digital_signature=True,
        content_commitment=False,
        # RSA key transport for TLS servers; EC and Ed25519 keys never encipher.
        key_encipherment=profile is Profile.LEAF and isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def extensions(
    spec: CertSpec,
    resolved: Resolved,
    key: PrivateKey,
    issuer_key: PrivateKey,
) -> list[tuple[x509.ExtensionType, bool]]:
    """The (extension, critical) pairs of ``spec``'s profile."""
    public = key.public_key()
    exts: list[tuple[x509.ExtensionType, bool]] = [
        # No pathLenConstraint: scenarios may build deeper hierarchies.
        (x509.BasicConstraints(ca=spec.profile is Profile.CA, path_length=None), True),
        (_key_usage(spec.profile, key), True),
        (x509.SubjectKeyIdentifier.from_public_key(public), False),
    ]
    if spec.issuer is not None:
        exts.append(
            (
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                False,
            )
        )
    if resolved.eku:
        exts.append((x509.ExtendedKeyUsage(list(resolved.eku)), False))
    if resolved.san:
        exts.append((x509.SubjectAlternativeName(list(resolved.san)), False))
    if resolved.ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(resolved.ocsp_url)
        )
        exts.append((x509.AuthorityInformationAccess([access]), False))
    if resolved.nocheck:
        # RFC 6960 4.2.2.2.1: the responder's own certificate is not checked.
        exts.append((x509.OCSPNoCheck(), False))
    if spec.must_staple:
        # RFC 7633 4.2: TLS Feature status_request (5, RFC 6066) — a TLS server presenting
        # this certificate must staple an OCSP answer. Not critical, as RFC 7633 4.2 suggests.
        exts.append((x509.TLSFeature([x509.TLSFeatureType.status_request]), False))
    return exts
