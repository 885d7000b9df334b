"""One scenario's situation set up for a product: PKI, responder, files, TLS endpoint.

:class:`ProductLab` builds the scenario's PKI for the product
(:func:`build_product_pki`: its "lab" URLs name the responder served here,
on ``product.host``), serves the responder on the real clock with the
scenario's database and faults, and writes the files a product command is
given: ``{trust}`` (the PEM bundle of the profile's ``[client] trust``) and
``{cert}`` (the presented certificate). :meth:`ProductLab.endpoint` is the
TLS endpoint presenting ``expect.cert`` with its chain, stapling per
``[tls] staple`` (:class:`lab.tls.staple.StapleSource`, on the real clock).

The model runs the same scenario on its virtual clock (t0 = the epoch); here
t0 is the start of the product run, so every validity window is where the
scenario puts it relative to the real now the product reads.

:func:`skip_reason` says why a scenario cannot be set up for a profile
(never silently: the report shows it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID
from flask import Flask

from lab.product.closing import close_now
from lab.product.profile import ProductKind, ProductProfile
from lab.product_pki import build_for_product
from lab.scenario import Scenario, Upload
from lab.tls.io import TlsPrivateKey
from lab.tls.server import TlsEndpoint
from lab.tls.staple import StapleSource
from pki import DEFAULT_BASE_URL, PKI, CertificateDatabase, Profile, calendar_t0
from pki.secret import LabSecret
from responder.app import LabResponder, create_app, lab_responder
from responder.clock import system_clock
from responder.requestlog import RequestLogEntry
from responder.server import serve_on_a_free_port

__all__ = [
    "ProductLab",
    "build_product_pki",
    "has_client_auth",
    "imports_once",
    "private_dir",
    "product_t0",
    "skip_reason",
    "trusted_part",
]


def build_product_pki(
    scenario: Scenario, base_url: str, t0: dt.datetime, secret: LabSecret, trust: Sequence[str]
) -> PKI:
    """The scenario's PKI as a product meets it: the ONE place a product run builds one.

    Made from the per-installation ``secret`` (never the public scenario
    one: a product may come to trust it), in two parts
    (:mod:`lab.product_pki`, DESIGN.md "Product under test"):

    * what the product trusts (``trust``: the profile's ``[client] trust``, CAs and
      trusted responders) is built as ``pki trust-bundle`` and ``pki build``
      build it — their default AIA URL (:data:`pki.DEFAULT_BASE_URL`) and
      t0 (:func:`pki.calendar_t0`) — so it is byte for byte the bundle a
      product imported once, in every scenario that does not replace it;
    * everything else — intermediates, delegated responders, and every leaf
      with a key and serial of its own per scenario id — is built at the
      run's real ``t0`` with "lab" URLs naming the responder served here, so
      validity windows are where the scenario puts them relative to the real
      now, and a product's OCSP cache (keyed by CertID, RFC 6960 4.1.1)
      cannot carry an answer from one scenario into the next.

    The two parts chain: a certificate's issuer is matched by name and key
    (RFC 5280 4.1.2.4, 4.2.1.1), and both come from the secret and the name.
    """
    served = build_for_product(scenario, base_url, secret, t0)
    trusted = trusted_part(scenario, trust, secret, t0)
    swapped = {
        name: dataclasses.replace(served[name], certificate=trusted[name].certificate)
        for name in trust
        if name in served and served[name].profile is not Profile.LEAF
    }
    return dataclasses.replace(served, certs={**served.certs, **swapped})


def trusted_part(
    scenario: Scenario, trust: Sequence[str], secret: LabSecret, t0: dt.datetime
) -> PKI:
    """The certificates named in ``trust`` (and their issuers) as the trust bundle has them."""
    return build_for_product(scenario, DEFAULT_BASE_URL, secret, calendar_t0(t0), only=trust)


def imports_once(profile: ProductProfile) -> bool:
    """The product imported the trust bundle once (it is not handed ``{trust}`` per connection)."""
    return profile.kind is not ProductKind.CLIENT or "{trust}" not in (profile.command or "")


def product_t0(now: dt.datetime | None = None) -> dt.datetime:
    """t0 of a product run: now, to the second (certificates carry no fractions)."""
    return (now or system_clock()).replace(microsecond=0)


def has_client_auth(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True  # no EKU: any use (RFC 5280 4.2.1.12)
    return (
        ExtendedKeyUsageOID.CLIENT_AUTH in usage
        or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usage
    )


def skip_reason(scenario: Scenario, profile: ProductProfile, *, timeline: bool) -> str | None:
    """Why ``scenario`` cannot be set up for ``profile``, or None when it can.

    ``timeline``: ``--timeline real`` was given (``[[step]]`` s run on the real clock).
    """
    names = {cert.name for cert in scenario.pki.certs}
    missing = [name for name in profile.client.trust if name not in names]
    if missing:
        return f"the profile trusts {', '.join(missing)}, which this scenario does not make"
    if scenario.responder.replay is not None:
        # The capture's thisUpdate / nextUpdate are fixed: they fit the model's virtual clock
        # at the epoch, never a product's real now.
        return "[responder] replay serves a capture's fixed times: made for the model's clock"
    if scenario.steps and not timeline:
        return "a timeline ([[step]]s): runs only with --timeline real"
    if any(isinstance(step.action, Upload) for step in scenario.steps):
        return f"an upload step: a product of kind {profile.kind.value} cannot be made to upload"
    if not scenario.expects and not any(step.expect for step in scenario.steps):
        return "nothing to compare: no expectation"
    return None


class ProductLab:
    """The scenario's PKI and responder for a product, and the files a command is given."""

    def __init__(
        self,
        scenario: Scenario,
        profile: ProductProfile,
        workdir: Path,
        t0: dt.datetime,
        secret: LabSecret,
    ) -> None:
        self.scenario = scenario
        self.profile = profile
        self.workdir = workdir
        self.closer: Callable[[Callable[[], None]], None] = close_now

        def build(url: str) -> Flask:
            self.pki: PKI = build_product_pki(scenario, url, t0, secret, profile.client.trust)
            return create_app(self.pki, config=scenario.responder, clock=system_clock)

        app, self.server = serve_on_a_free_port(build, host=profile.host)
        self.responder: LabResponder = lab_responder(app)
        self._fresh = True
        self.trust_file = self._write(
            "trust.pem", [self.pki[name].certificate for name in profile.client.trust]
        )

    @property
    def url(self) -> str:
        return self.pki.base_url

    def _write(self, name: str, certificates: list[x509.Certificate]) -> Path:
        path = self.workdir / name
        path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certificates))
        return path

    def cert_file(self, cert: str) -> Path:
        """``{cert}``: the presented certificate's PEM file."""
        return self._write(f"{cert}.pem", [self.pki[cert].certificate])

    def reset(self) -> None:
        """The scenario's initial state: its ``[database]``, its faults (for the next mode)."""
        if self._fresh:
            self._fresh = False
            return
        state = self.responder.state
        state.replace_database(CertificateDatabase.from_pki(self.pki))
        if state.faults != self.scenario.responder.faults:
            state.set_faults(self.scenario.responder.faults)

    def chain(self, cert: str) -> list[x509.Certificate]:
        """What a peer presents with ``cert``: its issuers up to the self-signed one."""
        return [issued.certificate for issued in self.pki.chain(cert)[1:]]

    def key(self, cert: str) -> TlsPrivateKey:
        return cast(TlsPrivateKey, self.pki[cert].private_key)

    def staple_source(self, cert: str) -> StapleSource | None:
        """The endpoint's staple (``[tls] staple``) on the real clock, or None."""
        if not self.scenario.tls.staple:
            return None
        issued = self.pki[cert]
        issuer = self.pki[issued.issuer].certificate if issued.issuer else issued.certificate
        return StapleSource(issued.certificate, issuer, now=system_clock)

    def endpoint(
        self, cert: str, *, idle_timeout: float, staple: StapleSource | None
    ) -> TlsEndpoint:
        """A TLS endpoint on ``product.host`` presenting ``cert`` and its chain (not started)."""
        return TlsEndpoint(
            self.pki[cert].certificate,
            self.key(cert),
            self.chain(cert),
            host=self.profile.host,
            staple=staple,
            handshake_timeout=self.profile.seconds,
            idle_timeout=idle_timeout,
            # Present any key and hash the PKI makes (RSA-1024, SHA-1): whether a product
            # accepts a legacy chain is its decision, to be observed, not OpenSSL's here.
            security_level=0,
        )

    def request_mark(self) -> int:
        """The id of the newest logged request: what comes after it is new."""
        entries = self.responder.requests.entries_after(0)
        return entries[-1][0] if entries else 0

    def requests_after(self, mark: int) -> list[RequestLogEntry]:
        return [entry for _, entry in self.responder.requests.entries_after(mark)]

    def close(self) -> None:
        self.closer(self.server.stop)


def private_dir(base: Path, name: str) -> Path:
    """A 0700 folder for one scenario's files (keys never; certificates and bundles)."""
    path = base / name
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
