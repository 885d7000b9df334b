"""Stable trust, fresh leaves: a scenario's PKI as a product under test meets it.

A product imports the lab's trust anchors and trusted responders once (the
trust bundle, ``ocsp-lab pki trust-bundle``) and then meets scenario after
scenario. Two things must then hold (DESIGN.md "Product under test"):

* everything it imported stays the same: CAs and responder certificates are
  derived from the per-installation secret and their names alone, exactly as
  ``pki build`` and ``serve`` make them, so a scenario that does not change
  ``root`` presents a chain to the very ``root`` the product trusts;
* every leaf is new: a leaf's key and serial are derived from the secret,
  the scenario id and its name (:func:`pki.build_pki`'s ``leaf_namespace``),
  so its CertID (RFC 6960 4.1.1: issuer name and key hashes, serial) is one
  the product never asked about, and no OCSP answer it cached in one
  scenario (RFC 5019 6: caching until nextUpdate) can be reused in the next.

Delegated responders issued by a CA (profile ``ocsp-responder``) stay stable
too: a product never imports one it is sent in the response (RFC 6960
4.2.2.2), but a scenario may name one in ``[client] trust`` (as the Trusted
Responder model), and a stable one is then the same certificate in every
scenario and in the bundle. A leaf named in ``trust`` is a leaf all the same:
it is new per scenario, and so is its bundle entry (one file per scenario).

:func:`skip_reason` says why a scenario cannot be set up against a product
that imported a given bundle, by comparing certificates (SHA-256 over DER),
never by guessing from names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from lab.scenario import Scenario
from pki import PKI, PKIError, PKISpec, Profile, build_pki
from pki.secret import LabSecret

__all__ = [
    "BundleEntry",
    "TrustBundle",
    "build_for_product",
    "build_trust_bundle",
    "fingerprint",
    "skip_reason",
]


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 over the DER, lowercase hex (``openssl x509 -fingerprint -sha256``, no colons)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def build_for_product(
    scenario: Scenario,
    base_url: str,
    secret: LabSecret,
    t0: dt.datetime,
    *,
    only: Iterable[str] | None = None,
) -> PKI:
    """``scenario``'s PKI for a product: stable CAs and responders, leaves of its own.

    ``base_url`` is the responder URL the product knows (AIA), ``t0`` the
    real-clock start (``pki.calendar_t0``), both as ``pki build`` and
    ``serve`` take them: with the same three arguments, the default PKI's CAs
    here are byte-identical to theirs. ``only`` builds just those
    certificates and their issuers (the same bytes, less work), for a caller
    that needs a few. A :class:`pki.PKIError` when it cannot be built.
    """
    spec = replace(scenario.pki, seed=secret.value)
    if only is not None:
        spec = _restricted(spec, only)
    return _build(spec, base_url, t0, scenario.id)


def _build(spec: PKISpec, base_url: str, t0: dt.datetime, namespace: str | None) -> PKI:
    """:func:`pki.build_pki`, a validity X.509 cannot encode being a :class:`PKIError` too."""
    try:
        return build_pki(spec, base_url=base_url, t0=t0, leaf_namespace=namespace)
    except (OverflowError, ValueError) as exc:
        # RFC 5280 4.1.2.5: no date before 1950 or past 9999 (cryptography's ValueError);
        # t0 plus a lifetime past datetime's range is Python's OverflowError.
        raise PKIError(
            f"t0 {t0:%Y-%m-%d}: a validity window would fall outside 1950-9999, "
            f"what X.509 can encode ({exc})"
        ) from None


def _restricted(spec: PKISpec, names: Iterable[str]) -> PKISpec:
    """``spec`` with only ``names`` and their issuers: each certificate depends on those alone."""
    by_name = {c.name: c for c in spec.certs}
    wanted: set[str] = set()
    for name in names:
        current = by_name.get(name)
        while current is not None and current.name not in wanted:
            wanted.add(current.name)
            current = by_name.get(current.issuer) if current.issuer is not None else None
    return replace(spec, certs=tuple(c for c in spec.certs if c.name in wanted))


@dataclass(frozen=True)
class BundleEntry:
    """One certificate of the bundle, under the file name it is written as."""

    name: str  # the certificate's name in the scenarios
    file: str  # "<name>.pem", or "<name>-<fingerprint[:12]>.pem" for a variant
    certificate: x509.Certificate
    profile: Profile
    #: The scenarios whose ``[client] trust`` needs exactly this certificate.
    scenarios: tuple[str, ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    @property
    def is_variant(self) -> bool:
        """A second certificate under a name the bundle already holds (another key or validity)."""
        return self.file != f"{self.name}.pem"


@dataclass(frozen=True)
class TrustBundle:
    """Every trust anchor and trusted responder a set of scenarios needs, once each.

    ``secret``, ``base_url`` and ``t0`` are what it was built with; a
    scenario is judged against it (:func:`skip_reason`) built with the same.
    ``unbuildable`` lists the scenarios whose PKI could not be built, with why.
    """

    entries: tuple[BundleEntry, ...]
    secret: LabSecret
    base_url: str
    t0: dt.datetime
    unbuildable: tuple[tuple[str, str], ...] = ()

    def fingerprints(self) -> frozenset[str]:
        return frozenset(e.fingerprint for e in self.entries)

    def entry(self, name: str) -> BundleEntry | None:
        """The bundle's certificate for ``name`` (its plain file), or None."""
        return next((e for e in self.entries if e.file == f"{name}.pem"), None)

    def without_variants(self) -> TrustBundle:
        """The bundle as a trust store that holds one certificate per name imported it."""
        return replace(self, entries=tuple(e for e in self.entries if not e.is_variant))


def build_trust_bundle(
    scenarios: Sequence[Scenario], *, base_url: str, secret: LabSecret, t0: dt.datetime
) -> TrustBundle:
    """The bundle of ``scenarios``: their ``[client] trust`` certificates, deduplicated.

    Deduplicated by fingerprint. Of the certificates one name has across the
    scenarios, the default PKI's one (what ``pki build`` writes) is
    ``<name>.pem``; without one, the one most scenarios need (then the lowest
    fingerprint). Any other is a variant, ``<name>-<fingerprint[:12]>.pem``.
    Entries come in file-name order: the same scenarios give the same bundle.
    """
    needed: dict[str, tuple[str, x509.Certificate, Profile, list[str]]] = {}
    unbuildable: list[tuple[str, str]] = []
    for scenario in scenarios:
        trust = scenario.client.trust
        try:
            lab_pki = build_for_product(scenario, base_url, secret, t0, only=trust)
        except PKIError as exc:
            unbuildable.append((scenario.id, str(exc)))
            continue
        for name in trust:
            issued = lab_pki[name]
            key = fingerprint(issued.certificate)
            if key not in needed:
                needed[key] = (name, issued.certificate, issued.profile, [])
            needed[key][3].append(scenario.id)
    defaults = _default_fingerprints(base_url, secret, t0)
    by_name: dict[str, list[str]] = {}
    for key, (name, *_rest) in needed.items():
        by_name.setdefault(name, []).append(key)
    entries: list[BundleEntry] = []
    for name, keys in by_name.items():
        # The default PKI's certificate first, then the most needed, then by fingerprint.
        keys.sort(key=lambda k: (k not in defaults, -len(needed[k][3]), k))
        for index, key in enumerate(keys):
            _, certificate, profile, users = needed[key]
            file = f"{name}.pem" if index == 0 else f"{name}-{key[:12]}.pem"
            entries.append(BundleEntry(name, file, certificate, profile, tuple(sorted(users))))
    entries.sort(key=lambda e: e.file)
    return TrustBundle(tuple(entries), secret, base_url, t0, tuple(unbuildable))


def _default_fingerprints(base_url: str, secret: LabSecret, t0: dt.datetime) -> frozenset[str]:
    """Fingerprints of the default PKI's CAs and responders as ``pki build`` makes them."""
    lab_pki = _build(PKISpec(seed=secret.value), base_url, t0, None)
    return frozenset(fingerprint(c.certificate) for c in lab_pki if c.profile is not Profile.LEAF)


_KIND = {
    Profile.CA: "CA",
    Profile.OCSP_RESPONDER: "trusted responder",
    Profile.LEAF: "trusted certificate",
}


def skip_reason(
    scenario: Scenario,
    bundle: TrustBundle,
    *,
    trust: Sequence[str] | None = None,
    lab_pki: PKI | None = None,
) -> str | None:
    """Why ``scenario`` cannot be set up for a product that imported ``bundle``; None if it can.

    Each certificate the model trusts (``trust``: the product profile's
    ``[client] trust`` names; default the scenario's own) must be, byte for
    byte, one the bundle holds: else the product would judge a chain or a
    responder it does not trust, and the model one it does. ``lab_pki`` is
    the scenario's PKI from :func:`build_for_product` when the caller has it
    (built with the bundle's secret, URL and t0); else the needed part is built.
    """
    names = tuple(scenario.client.trust if trust is None else trust)
    if lab_pki is None:
        try:
            lab_pki = build_for_product(
                scenario, bundle.base_url, bundle.secret, bundle.t0, only=names
            )
        except PKIError as exc:
            return f"its PKI cannot be built for a product: {exc}"
    held = bundle.fingerprints()
    for name in names:
        if name not in lab_pki:
            return f"the product trusts `{name}`, which this scenario's PKI does not have"
        issued = lab_pki[name]
        if fingerprint(issued.certificate) in held:
            continue
        kind = _KIND[issued.profile]
        if issued.profile is Profile.LEAF:
            return (
                f"trusts the leaf `{name}`, new in each scenario and not in the bundle "
                "— the product would need to import it"
            )
        if any(e.name == name for e in bundle.entries):
            return (
                f"replaces {kind} `{name}` (its key or validity differs from the bundle's) "
                "— the product would need to import it"
            )
        return (
            f"trusts {kind} `{name}`, which is not in the bundle "
            "— the product would need to import it"
        )
    return None
