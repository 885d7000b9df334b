"""What a PKI is made of, as plain frozen data.

`pki` imports nothing of ours: the scenario loader (``lab.scenario``) turns a
scenario file into these values, and :func:`pki.build_pki` turns them into
certificates and keys. Durations are :class:`datetime.timedelta` offsets from
the scenario's start, t0; parsing ``"-1d"`` is the loader's job.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CERTS",
    "EPOCH",
    "LAB_URL",
    "NO_URL",
    "REASONS",
    "CertFile",
    "CertSpec",
    "EntrySpec",
    "KeyType",
    "PKISpec",
    "Profile",
    "RecordStatus",
    "SignatureHash",
    "calendar_t0",
]

#: t0 of every virtual-clock run: fixed, so validity windows never move.
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def calendar_t0(now: dt.datetime) -> dt.datetime:
    """t0 for real-clock commands (``pki build``, ``serve``): 1 January of ``now``'s year, UTC.

    The virtual clock's fixed :data:`EPOCH` lies in the past for a product
    that checks validity against its real clock. Starting at the year keeps
    the PKI byte-identical all year (a product keeps trusting it), and its
    one-year leaves valid until the year ends; ``--t0`` pins another date.
    """
    return dt.datetime(now.astimezone(dt.UTC).year, 1, 1, tzinfo=dt.UTC)


#: Where "lab" AIA URLs point unless the runner or `serve` says otherwise.
DEFAULT_BASE_URL = "http://127.0.0.1:8080/"

#: ``ocsp_url = "lab"``: the lab responder's URL, filled in at build time.
LAB_URL = "lab"
#: ``ocsp_url = "none"``: no AIA extension at all.
NO_URL = "none"


class KeyType(StrEnum):
    """Key types a certificate may have (SCENARIOS.md ``[pki].key``)."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    ED25519 = "ed25519"
    # Legacy field CAs still issue with 1024-bit RSA; NIST SP 800-131A Rev. 2
    # disallows it for signing since 2013, which is what a lab must reproduce.
    RSA_1024 = "rsa-1024"


class SignatureHash(StrEnum):
    """Hashes an issuer may sign certificates with (SCENARIOS.md ``[pki].signature_hash``).

    SHA-1 is there for legacy CAs (RFC 5280 4.1.1.2 allows any algorithm;
    CA/Browser Forum BR 7.1.3 forbids SHA-1 since 2016, field CAs still have it).
    Ed25519 takes none: its hash is part of the algorithm (RFC 8032 5.1.6, RFC 8410 3).
    """

    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


class Profile(StrEnum):
    """Certificate profiles (SCENARIOS.md ``[[pki.cert]].profile``)."""

    CA = "ca"
    LEAF = "leaf"
    OCSP_RESPONDER = "ocsp-responder"


class RecordStatus(StrEnum):
    """What the responder's database says of a certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    HOLD = "hold"  # revoked with reason certificateHold (RFC 5280 5.3.1)
    UNKNOWN = "unknown"  # no record at all


#: RFC 5280 5.3.1 CRLReason names, in their enumeration order (value 7 is unused).
REASONS: Mapping[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "cACompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "removeFromCRL": 8,
    "privilegeWithdrawn": 9,
    "aACompromise": 10,
}


@dataclass(frozen=True)
class CertFile:
    """A certificate read from a file instead of made (SCENARIOS.md ``cert_file``, ``key_file``).

    Plain bytes, read and checked by the scenario loader: the certificate's
    DER and, when given, its private key as unencrypted PKCS#8 DER. ``path``
    and ``key_path`` say where they came from, for the README and the status
    page. Without a key the lab can judge with the certificate, but never
    issue or sign with it.
    """

    certificate: bytes
    key: bytes | None = None
    path: str = ""
    key_path: str | None = None


@dataclass(frozen=True)
class CertSpec:
    """One certificate. ``None`` everywhere means "the profile's default".

    With ``from_file`` the certificate is the file's: ``profile`` and
    ``issuer`` are what the file says (the loader finds the issuer's name),
    every other field is unused.
    """

    name: str
    issuer: str | None = None  # None: self-signed
    profile: Profile = Profile.LEAF
    key: KeyType | None = None  # None: PKISpec.key
    valid_from: dt.timedelta | None = None  # offset from t0; default -1d
    valid_to: dt.timedelta | None = None  # default +10 years (CA), +1 year (others)
    eku: tuple[str, ...] | None = None  # names as in SCENARIOS.md, or dotted OIDs
    nocheck: bool | None = None  # default: True for ocsp-responder
    ocsp_url: str | None = None  # "lab", a URL, "none"; default "lab" if issued
    san: tuple[str, ...] | None = None  # DNS names / IP addresses
    serial: int | None = None  # default: derived from the name
    subject: str | None = None  # common name; default: the name
    # The hash its issuer signs it with; None: PKISpec.signature_hash.
    signature_hash: SignatureHash | None = None
    # RFC 7633: a TLS Feature extension asking for status_request (a stapled answer).
    must_staple: bool = False
    #: SCENARIOS.md ``cert_file``: the certificate comes from a file, not the builder.
    from_file: CertFile | None = None


@dataclass(frozen=True)
class EntrySpec:
    """One ``[database]`` entry: a certificate's status at the responder."""

    status: RecordStatus = RecordStatus.GOOD
    reason: str | None = None  # RFC 5280 name; None: no reasonCode
    since: dt.timedelta = dt.timedelta(days=-1)  # revocationTime, offset from t0


def _default_certs() -> tuple[CertSpec, ...]:
    return (
        CertSpec("root", profile=Profile.CA),
        CertSpec("intermediate", issuer="root", profile=Profile.CA),
        CertSpec("server", issuer="intermediate", profile=Profile.LEAF),
        CertSpec("responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER),
        CertSpec("root-responder", issuer="root", profile=Profile.OCSP_RESPONDER),
        CertSpec("trusted-responder", profile=Profile.OCSP_RESPONDER),
    )


#: The six certificates every scenario has unless it replaces one by name.
DEFAULT_CERTS: tuple[CertSpec, ...] = _default_certs()


@dataclass(frozen=True)
class PKISpec:
    """A whole PKI: the key type, the signature hash and the certificates, defaults merged in.

    ``certs`` is in a valid build order (issuers before what they issue) once
    :meth:`with_defaults` has run; the loader checks names and cycles.
    ``signature_hash`` ``None`` means "by the issuer's key": SHA-256, SHA-384
    for P-384 (a hash as strong as the curve, RFC 5480 4), none for Ed25519.
    Set, it is every issuer's hash but an Ed25519 one's, which has no choice.
    """

    key: KeyType = KeyType.EC_P256
    certs: tuple[CertSpec, ...] = DEFAULT_CERTS
    seed: bytes = b"ocsp-lab/v1"
    database: Mapping[str, EntrySpec] = field(default_factory=dict)
    signature_hash: SignatureHash | None = None

    @staticmethod
    def with_defaults(
        extra: tuple[CertSpec, ...] = (),
        *,
        key: KeyType = KeyType.EC_P256,
        database: Mapping[str, EntrySpec] | None = None,
        seed: bytes = b"ocsp-lab/v1",
        signature_hash: SignatureHash | None = None,
    ) -> PKISpec:
        """The default PKI, with ``extra`` added or replacing defaults by name."""
        by_name = {c.name: c for c in DEFAULT_CERTS}
        for cert in extra:
            by_name[cert.name] = cert
        return PKISpec(
            key=key,
            certs=tuple(by_name.values()),
            seed=seed,
            database=dict(database or {}),
            signature_hash=signature_hash,
        )

    def cert(self, name: str) -> CertSpec:
        for cert in self.certs:
            if cert.name == name:
                return cert
        raise KeyError(name)
