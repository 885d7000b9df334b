"""The validator's settings, as a product's administrator sets them (SCENARIOS.md ``[client]``).

Plain frozen data with the defaults of SCENARIOS.md; the scenario loader
(:mod:`lab.scenario`) fills it, the validator and the policy read it. Two
axes stay apart, as DESIGN.md asks: what a *signed* Unknown means (the Common
Criteria switch) and what *no answer* means (``soft_fail``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from lab.policy import Policy

__all__ = [
    "CertIdHash",
    "CheckScope",
    "ClientSettings",
    "Delegation",
    "EndpointSettings",
    "HttpMethod",
    "Stapling",
    "UriSource",
]


class UriSource(StrEnum):
    """Where the validator finds the responder to ask (DESIGN.md step 1)."""

    CERTIFICATE = "certificate"  # "Use OCSP URI from Certificate": the AIA OCSP URLs
    CONFIGURED = "configured"  # the OCSP Configured URI; no fallback between the two


class CheckScope(StrEnum):
    """Which certificates of a presented chain are checked."""

    CHAIN = "chain"  # the leaf, and every intermediate that has a URI to ask
    LEAF = "leaf"


class CertIdHash(StrEnum):
    """The hash of the request's CertID (RFC 6960 4.1.1)."""

    SHA1 = "sha1"  # RFC 5019 2.1.1: what lightweight responders must understand
    SHA256 = "sha256"


class HttpMethod(StrEnum):
    """How the request travels (RFC 6960 A.1, RFC 5019 5)."""

    POST = "post"
    GET = "get"  # base64 of the DER request in the URL path


class Delegation(StrEnum):
    """Which CA may delegate OCSP signing to a responder certificate."""

    ISSUING_CA = "issuing-ca"  # RFC 6960 4.2.2.2: issued directly by the certificate's CA
    ANY_CA = "any-ca"  # a responder certificate from any CA of the path


class Stapling(StrEnum):
    """What a stapled answer (TLS status_request, RFC 6066 8) means to the validator."""

    IGNORE = "ignore"  # always ask the responder, as Unified CM's TLS clients do
    USE = "use"  # judge a staple like a fetched answer and ask nothing; without one, ask
    # As USE, and a must-staple certificate (RFC 7633) without a staple is refused, in both
    # Common Criteria modes, whatever soft_fail says (RFC 7633 4.2.3: a hard failure).
    REQUIRE = "require"


@dataclass(frozen=True)
class EndpointSettings:
    """``[tls]``: the TLS endpoint that presents ``expect.cert`` (SCENARIOS.md)."""

    staple: bool = False  # staple the lab responder's answer (lab.tls.staple.StapleSource)


@dataclass(frozen=True)
class ClientSettings:
    """``[client]``: every setting of the validator, with the defaults of SCENARIOS.md.

    ``common_criteria`` is ``None`` when the scenario leaves it out: the
    scenario then runs twice, once with Common Criteria ON and once OFF
    (:meth:`modes`). ``soft_fail`` is ``None`` when it follows the Common
    Criteria switch (:meth:`effective_soft_fail`). ``trust`` holds certificate
    names of the scenario's PKI.
    """

    ocsp: bool = True
    uri: UriSource = UriSource.CERTIFICATE
    configured_uri: str = "lab"  # a http(s) URL, or "lab": the lab responder
    common_criteria: bool | None = None
    soft_fail: bool | None = None
    trust: tuple[str, ...] = ("root",)
    check: CheckScope = CheckScope.CHAIN
    strict_cert_id: bool = False
    nonce: bool = True
    require_nonce: bool = False
    hash: CertIdHash = CertIdHash.SHA1
    method: HttpMethod = HttpMethod.POST
    timeout: dt.timedelta = dt.timedelta(seconds=5)
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    clock_offset: dt.timedelta = dt.timedelta(0)  # the client's clock minus the responder's
    delegation: Delegation = Delegation.ISSUING_CA
    revocation_check: dt.timedelta | None = None  # Enable Revocation Check interval; None: off
    validity_check: dt.timedelta | None = None  # Validity Check Frequency; None: off
    stapling: Stapling = Stapling.IGNORE

    def modes(self) -> tuple[bool, ...]:
        """The Common Criteria modes to run: ``(True, False)`` unless one is set."""
        if self.common_criteria is None:
            return (True, False)
        return (self.common_criteria,)

    def policy(self, cc_on: bool) -> Policy:
        """The policy's two switches in the Common Criteria mode ``cc_on``."""
        return Policy(common_criteria=cc_on, soft_fail=self.soft_fail)

    def effective_soft_fail(self, cc_on: bool) -> bool:
        """Whether no trustworthy answer still allows the connection in that mode.

        :attr:`lab.policy.Policy.effective_soft_fail` decides (the one definition).
        """
        return self.policy(cc_on).effective_soft_fail

    @property
    def recheck_interval(self) -> dt.timedelta | None:
        """How often long-lived connections are re-checked, or ``None`` for never.

        The revocation-check interval wins over the Validity Check Frequency
        when both are set (DESIGN.md, "When checks run").
        """
        if self.revocation_check is not None:
            return self.revocation_check
        return self.validity_check
