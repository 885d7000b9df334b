"""Expected and actual outcomes, kept apart, and what differed between them.

An expectation (:class:`lab.scenario.Expect`) says what must come of a
check; an :class:`Actual` says what came, with the evidence behind it (the
:class:`lab.chain_check.ChainResult` of the check, also when nothing was asked).
:func:`compare` lists the :class:`Mismatch` es, key by key, only for the keys
the expectation gives (SCENARIOS.md: "Only the keys given are checked").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.chain_check import ChainResult
from lab.evidence import CertStatus, ErrorCode, Evidence, TrustedBy
from lab.scenario import ConnectionOutcome, Expect, UploadOutcome
from lab.timespec import format_offset

if TYPE_CHECKING:
    from lab.tls.record import ConnectionRecord

__all__ = [
    "Actual",
    "CertificateCheckRecord",
    "Expectation",
    "Mismatch",
    "compare",
    "expected_json",
]

#: What ``status`` reads as when OCSP was not asked at all (``[client] ocsp = false``).
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class CertificateCheckRecord:
    """One check of a presented certificate (at connection, upload or re-check).

    ``result`` is the chain's evidence and verdict; its ``checks`` are empty
    when nothing was asked (``[client] ocsp = false``, a self-signed upload):
    then only the validity periods were looked at. ``allowed`` is the verdict
    on the whole chain; ``decided_by`` the policy row (and mode) that made it,
    in words. ``stand_in`` is set when the
    responder gave no trustworthy answer and a still-fresh cached one stood in.
    """

    cert: str
    at: dt.timedelta
    kind: str  # "connect", "upload", "re-check"
    allowed: bool
    decided_by: str
    result: ChainResult
    stand_in: bool = False

    @property
    def evidence(self) -> Evidence | None:
        """The evidence about the presented certificate itself (the leaf)."""
        if not self.result.checks:
            return None
        return self.result.leaf.evidence

    def to_json(self) -> dict[str, Any]:
        return {
            "cert": self.cert,
            "at": format_offset(self.at),
            "kind": self.kind,
            "allowed": self.allowed,
            "decided_by": self.decided_by,
            "stand_in": self.stand_in,
            "chain": self.result.to_json(),
        }


@dataclass(frozen=True)
class Actual:
    """What came of a check, in the expectation's words, with the record behind it."""

    record: CertificateCheckRecord | None
    connection: ConnectionOutcome | None = None
    upload: UploadOutcome | None = None
    #: ``run --tls``: what the TLS endpoint saw of the connection (``connection`` came from it).
    tls: ConnectionRecord | None = None

    @property
    def status(self) -> CertStatus | None:
        evidence = self.evidence
        return None if evidence is None else evidence.status

    @property
    def reason(self) -> str | None:
        evidence = self.evidence
        return None if evidence is None else evidence.reason

    @property
    def error(self) -> ErrorCode | None:
        evidence = self.evidence
        return None if evidence is None else evidence.error

    @property
    def trusted_by(self) -> TrustedBy | None:
        evidence = self.evidence
        return None if evidence is None else evidence.trusted_by

    @property
    def evidence(self) -> Evidence | None:
        return None if self.record is None else self.record.evidence

    def summary(self) -> str:
        """One line of evidence for a person: code and message, model, signer, warnings."""
        record = self.record
        if record is None:
            return "no check was made"
        evidence = record.evidence
        if evidence is None:
            return f"OCSP not asked; {record.decided_by}"
        parts = [f"status {evidence.status.value}"]
        if evidence.reason:
            parts.append(f"reason {evidence.reason}")
        if evidence.error is not None:
            parts.append(f"error {evidence.error.value} ({evidence.message})")
        parts.append(f"trusted_by {evidence.trusted_by.value}")
        if evidence.signer_subject:
            parts.append(f"signer {evidence.signer_subject}")
        if evidence.warnings:
            parts.append("warnings: " + "; ".join(evidence.warnings))
        if record.stand_in:
            parts.append("cached answer stood in")
        parts.append(f"verdict {record.decided_by}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": _value(self.status) if self.record is not None else None,
            "reason": self.reason,
            "error": _value(self.error),
            "trusted_by": _value(self.trusted_by),
            "connection": _value(self.connection),
            "upload": _value(self.upload),
            "summary": self.summary(),
            "check": None if self.record is None else self.record.to_json(),
            "tls": None if self.tls is None else self.tls.to_json(),
        }


def _value(
    value: CertStatus | ErrorCode | TrustedBy | ConnectionOutcome | UploadOutcome | None,
) -> str | None:
    return None if value is None else value.value


@dataclass(frozen=True)
class Mismatch:
    """One key whose expected value did not come."""

    key: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.key}: expected {self.expected}, got {self.actual}"

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True)
class Expectation:
    """One expectation checked in one mode: where it was written, what came, what differed."""

    label: str  # "expect[0]", "step[3] at +6h"
    at: dt.timedelta
    expect: Expect
    actual: Actual
    mismatches: tuple[Mismatch, ...]
    #: Wall time of what led to it: the check at t0, or the step (its action, the
    #: re-checks due and the check) since the previous expectation of the timeline.
    seconds: float = 0.0

    @property
    def holds(self) -> bool:
        return not self.mismatches

    def to_json(self, cc_on: bool) -> dict[str, Any]:
        return {
            "label": self.label,
            "at": format_offset(self.at),
            "holds": self.holds,
            "expected": expected_json(self.expect, cc_on),
            "actual": self.actual.to_json(),
            "mismatches": [m.to_json() for m in self.mismatches],
        }


def expected_json(expect: Expect, cc_on: bool) -> dict[str, str]:
    """The keys an expectation gives, as expected in mode ``cc_on``."""
    out: dict[str, str] = {"cert": expect.cert}
    for key, value in _expected_values(expect, cc_on):
        out[key] = value
    return out


def _expected_values(expect: Expect, cc_on: bool) -> list[tuple[str, str]]:
    values: list[tuple[str, str]] = []
    if expect.status is not None:
        values.append(("status", expect.status.value))
    if expect.reason is not None:
        values.append(("reason", expect.reason))
    if expect.error is not None:
        values.append(("error", expect.error.value))
    if expect.trusted_by is not None:
        values.append(("trusted_by", expect.trusted_by.value))
    if expect.connection is not None:
        values.append(("connection", expect.connection.for_mode(cc_on).value))
    if expect.upload is not None:
        values.append(("upload", expect.upload.for_mode(cc_on).value))
    return values


def _shown(value: str | None, none: str) -> str:
    return none if value is None else value


def compare(expect: Expect, actual: Actual, cc_on: bool) -> tuple[Mismatch, ...]:
    """Every key ``expect`` gives whose value did not come, in mode ``cc_on``."""
    checked = actual.record is not None and actual.evidence is not None
    found: dict[str, str] = {
        "status": _value(actual.status) or NOT_CHECKED if checked else NOT_CHECKED,
        "reason": _shown(actual.reason, "no reason"),
        "error": _shown(_value(actual.error), "no error"),
        "trusted_by": _shown(_value(actual.trusted_by), NOT_CHECKED if not checked else "none"),
        "connection": _shown(_value(actual.connection), "no connection"),
        "upload": _shown(_value(actual.upload), "no upload"),
    }
    return tuple(
        Mismatch(key, expected, found[key])
        for key, expected in _expected_values(expect, cc_on)
        if found[key] != expected
    )
