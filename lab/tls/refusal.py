"""Which TLS alert a refusal sends: the policy row that refused, mapped once, here.

The reference product refuses a peer with the alert a TLS stack sends for
that reason (RFC 8446 6.2): ``certificate_revoked`` for a revoked
certificate, ``certificate_unknown`` when no answer vouches for it (a signed
unknown, or no trustworthy answer), ``bad_certificate`` for anything else.
"""

from __future__ import annotations

from lab.policy import Outcome, Verdict
from lab.tls.alerts import Alert

__all__ = ["REFUSAL_ALERTS", "UNKNOWN_ISSUER", "refusal_alert"]

#: The policy's row that refused → the alert sent (one table, DESIGN.md "Policy").
REFUSAL_ALERTS: dict[Outcome, Alert] = {
    Outcome.REVOKED: Alert.CERTIFICATE_REVOKED,
    Outcome.UNKNOWN: Alert.CERTIFICATE_UNKNOWN,
    Outcome.ERROR: Alert.CERTIFICATE_UNKNOWN,
    Outcome.CERT_INVALID: Alert.BAD_CERTIFICATE,
    Outcome.STAPLE_MISSING: Alert.BAD_CERTIFICATE,
}

#: The chain's issuer is neither presented nor trusted: there is nothing to ask with.
UNKNOWN_ISSUER = Alert.UNKNOWN_CA  # RFC 8446 6.2: no CA certificate could be located


def refusal_alert(verdict: Verdict) -> Alert | None:
    """The alert to refuse with, or ``None`` when the verdict allows."""
    if verdict.allowed:
        return None
    return REFUSAL_ALERTS.get(verdict.row, Alert.BAD_CERTIFICATE)
