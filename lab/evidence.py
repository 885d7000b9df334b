"""What one OCSP check found: the evidence, kept apart from the verdict.

The evidence of a check — status, revocation reason and time, which trust
model accepted the signer (``trusted_by``), the signer, the ResponderID,
freshness, nonce state, warnings and, for ``error``, exactly one error code
from SCENARIOS.md — is a value of its own. :mod:`lab.policy` turns it into a
verdict; nothing here says "allowed" or "refused".

Every failure inside the pipeline is a :class:`CheckFailure` carrying an
:class:`ErrorCode`: tests assert on the code, people read the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "CertStatus",
    "CertValidity",
    "CheckFailure",
    "ErrorCode",
    "Evidence",
    "NonceState",
    "Step",
    "StepOutcome",
    "TrustedBy",
    "error_evidence",
]


class CertStatus(StrEnum):
    """The status of one checked certificate, in the scenario format's words."""

    GOOD = "good"
    REVOKED = "revoked"  # certificateHold included (RFC 6960 2.2: "on hold")
    UNKNOWN = "unknown"
    ERROR = "error"  # no trustworthy answer; Evidence.error says why


class TrustedBy(StrEnum):
    """Which model accepted the response's signer (DESIGN.md, "Who signed it")."""

    DTM = "dtm"  # the issuing CA, or a responder it delegated to (RFC 6960 4.2.2.2)
    TRP = "trp"  # a designated OCSP signing certificate from the trust store
    NONE = "none"


class ErrorCode(StrEnum):
    """The error codes of SCENARIOS.md: exactly one per failed check."""

    NO_OCSP_URI = "no-ocsp-uri"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http-status"
    MALFORMED_RESPONSE = "malformed-response"
    MALFORMED_REQUEST = "malformed-request"
    INTERNAL_ERROR = "internal-error"
    TRY_LATER = "try-later"
    SIG_REQUIRED = "sig-required"
    UNAUTHORIZED = "unauthorized"
    NO_MATCHING_RESPONSE = "no-matching-response"
    BAD_SIGNATURE = "bad-signature"
    SIGNER_NOT_AUTHORIZED = "signer-not-authorized"
    STALE_RESPONSE = "stale-response"
    FUTURE_RESPONSE = "future-response"
    NONCE_MISMATCH = "nonce-mismatch"
    NONCE_MISSING = "nonce-missing"
    CRITICAL_EXTENSION = "critical-extension"
    # RFC 7633 4.2.3: a must-staple certificate came without a staple (stapling = "require").
    STAPLE_MISSING = "staple-missing"


class NonceState(StrEnum):
    """What became of the nonce (RFC 6960 4.4.1, RFC 9654)."""

    NOT_SENT = "not-sent"
    ECHOED = "echoed"
    MISSING = "missing"  # sent, not echoed (an RFC 5019 pre-produced answer)
    MISMATCH = "mismatch"  # sent, another one came back
    UNCHECKED = "unchecked"  # the check stopped before the nonce was looked at


class CertValidity(StrEnum):
    """The checked certificate's own validity period at ``now`` (a policy row of its own)."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"


class StepOutcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, eq=False)
class Step:
    """One step of the revocation model and what it found, for a person to read.

    :meth:`deferred` makes a step whose ``detail`` is written only when read:
    the validator records every step of every check, and most checks are
    never explained to anyone. Both kinds compare and hash by their content.
    """

    name: str  # uri, request, transport, response, signer, cert-id, freshness, nonce, …
    outcome: StepOutcome
    detail: str

    @staticmethod
    def deferred(name: str, outcome: StepOutcome, render: Callable[[], str]) -> Step:
        """A step whose detail is ``render()``, called once, when first read."""
        return _DeferredStep(name, outcome, None, render)

    def to_json(self) -> dict[str, str]:
        return {"step": self.name, "outcome": self.outcome.value, "detail": self.detail}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return (self.name, self.outcome, self.detail) == (other.name, other.outcome, other.detail)

    def __hash__(self) -> int:
        return hash((self.name, self.outcome, self.detail))


class _DeferredStep(Step):
    """A :class:`Step` holding how to write its detail until someone reads it."""

    def __init__(
        self,
        name: str,
        outcome: StepOutcome,
        detail: str | None = None,
        render: Callable[[], str] | None = None,
    ) -> None:
        state = self.__dict__  # frozen: written once, here
        state["name"] = name
        state["outcome"] = outcome
        state["_detail"] = detail
        state["_render"] = render

    @property
    def detail(self) -> str:
        state = self.__dict__
        text: str | None = state.get("_detail")
        if text is None:
            text = state["_detail"] = state["_render"]()
        return text

    def __repr__(self) -> str:
        return f"Step(name={self.name!r}, outcome={self.outcome!r}, detail={self.detail!r})"


class CheckFailure(Exception):
    """A check stopped: ``code`` is the SCENARIOS.md error code, the message the why."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Evidence:
    """Everything one OCSP check found about one certificate. Never a verdict."""

    status: CertStatus
    trusted_by: TrustedBy = TrustedBy.NONE
    error: ErrorCode | None = None
    message: str = ""  # the human sentence behind ``error`` (or a summary)
    reason: str | None = None  # RFC 5280 CRLReason name, for revoked
    revocation_time: dt.datetime | None = None
    signer_subject: str | None = None
    signer_fingerprint: str | None = None  # SHA-256 of the signer certificate, hex
    delegated_responder: bool = False  # the signer is not the CA itself
    responder_id: str | None = None  # "byKey 3F…" or "byName CN=…"
    produced_at: dt.datetime | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    nonce: NonceState = NonceState.UNCHECKED
    cert_id_hash: str | None = None  # the hash algorithm of the matching CertID
    cert_validity: CertValidity = CertValidity.VALID
    subject: str | None = None  # the checked certificate
    serial: int | None = None
    url: str | None = None
    warnings: tuple[str, ...] = ()
    steps: tuple[Step, ...] = field(default=(), compare=False)

    @property
    def is_error(self) -> bool:
        return self.status is CertStatus.ERROR

    def with_steps_before(self, steps: tuple[Step, ...], **changes: Any) -> Evidence:
        """This evidence with transport-level steps in front (and other fields changed)."""
        return replace(self, steps=steps + self.steps, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; keys and values use the scenario format's words."""
        return {
            "status": self.status.value,
            "reason": self.reason,
            "revocation_time": _iso(self.revocation_time),
            "trusted_by": self.trusted_by.value,
            "error": None if self.error is None else self.error.value,
            "message": self.message,
            "signer": self.signer_subject,
            "signer_sha256": self.signer_fingerprint,
            "delegated_responder": self.delegated_responder,
            "responder_id": self.responder_id,
            "produced_at": _iso(self.produced_at),
            "this_update": _iso(self.this_update),
            "next_update": _iso(self.next_update),
            "nonce": self.nonce.value,
            "cert_id_hash": self.cert_id_hash,
            "cert_validity": self.cert_validity.value,
            "subject": self.subject,
            "serial": None if self.serial is None else format(self.serial, "X"),
            "url": self.url,
            "warnings": list(self.warnings),
            "steps": [s.to_json() for s in self.steps],
        }


def error_evidence(code: ErrorCode, message: str, **fields: Any) -> Evidence:
    """An ``error`` evidence with its one code."""
    return Evidence(status=CertStatus.ERROR, error=code, message=message, **fields)
