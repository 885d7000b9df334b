"""What the validator is told besides the response bytes, and what it reads of that once."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from cryptography import x509

from lab.ocsp_request import RequestedCertID
from lab.settings import Delegation
from lab.validator.facts import FACTS, CertFacts

__all__ = ["CheckContext", "Prepared", "ValidationOptions"]


@dataclass(frozen=True)
class ValidationOptions:
    """The validator's knobs, as data (SCENARIOS.md ``[client]``)."""

    strict_cert_id: bool = False
    require_nonce: bool = False
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    #: RFC 6960 4.2.2.1: without nextUpdate, newer information is always available;
    #: such an answer is accepted this long after its thisUpdate (mozilla::pkix: 1 day).
    max_age_without_next_update: dt.timedelta = dt.timedelta(hours=24)
    delegation: Delegation = Delegation.ISSUING_CA


@dataclass(frozen=True)
class CheckContext:
    """What the validator knows besides the response bytes.

    ``cert`` and ``issuer`` are the certificate asked about and its issuing
    CA; ``requested`` the CertID sent (its hash and serial); ``nonce`` the
    nonce sent, or None. ``path`` lists the other CAs of the presented path
    (for ``delegation = "any-ca"``); ``trust`` is the trust store. ``inspect``
    may leave ``cert``, ``issuer`` or ``requested`` out: the steps that need
    them say so and are skipped or weakened.
    """

    now: dt.datetime
    cert: x509.Certificate | None = None
    issuer: x509.Certificate | None = None
    requested: RequestedCertID | None = None
    nonce: bytes | None = None
    trust: tuple[x509.Certificate, ...] = ()
    path: tuple[x509.Certificate, ...] = ()
    options: ValidationOptions = field(default_factory=ValidationOptions)

    @functools.cached_property
    def prepared(self) -> Prepared:
        """The facts of ``cert``, ``issuer``, ``path`` and ``trust``, looked up once."""
        return Prepared.of(self)


@dataclass(frozen=True)
class Prepared:
    """What a :class:`CheckContext` contributes to every check made with it, read once."""

    cert: CertFacts | None
    issuer: CertFacts | None
    delegators: tuple[CertFacts, ...]  # CAs whose direct delegation DTM accepts
    known: tuple[CertFacts, ...]  # issuer, path, trust: signer candidates after the embedded
    trust_der: frozenset[bytes]
    serial: int | None  # the serial asked about, if known
    subject: str | None

    @classmethod
    def of(cls, ctx: CheckContext) -> Prepared:
        cert = None if ctx.cert is None else FACTS.of(ctx.cert)
        issuer = None if ctx.issuer is None else FACTS.of(ctx.issuer)
        path = tuple(FACTS.of(c) for c in ctx.path)
        trust = tuple(FACTS.of(c) for c in ctx.trust)
        delegators: tuple[CertFacts, ...] = ()
        if issuer is not None:
            delegators = (issuer,)
            if ctx.options.delegation is Delegation.ANY_CA:
                delegators += tuple(c for c in path if c.der != issuer.der)
        if ctx.cert is not None:
            serial: int | None = ctx.cert.serial_number
        else:
            serial = ctx.requested.serial if ctx.requested else None
        return cls(
            cert=cert,
            issuer=issuer,
            delegators=delegators,
            known=(*([issuer] if issuer else []), *path, *trust),
            trust_der=frozenset(t.der for t in trust),
            serial=serial,
            subject=None if cert is None else cert.subject(),
        )
