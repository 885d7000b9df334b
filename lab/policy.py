"""The revocation policy: DESIGN.md's one table, as data, in one place.

=====================================  ===================  =========================
outcome                                Common Criteria ON   Common Criteria OFF
=====================================  ===================  =========================
good                                   allowed              allowed
revoked (incl. on hold)                refused              refused
unknown                                refused              allowed
error (no trustworthy answer)          soft_fail decides    soft_fail decides
certificate expired / not yet valid    refused              refused
must-staple without a staple           refused              refused
not checked (nothing asked about it)   allowed              allowed
=====================================  ===================  =========================

Two axes stay apart (Java's PKIXRevocationChecker SOFT_FAIL,
pyhanko-certvalidator's revocation modes): what a *signed* Unknown means is
the Common Criteria switch; what *no answer* means is ``soft_fail``, whose
default follows the switch (soft fail when Common Criteria is OFF). The
evidence is never folded into the verdict: a :class:`Verdict` names the row
that decided it.

The validity period is looked at for *every* presented certificate, checked
by OCSP or not (RFC 5280 6.1.3 (a)(2): each certificate of the path must be
valid at the time in question; RFC 6960 2.2: "good" never vouches for it).
A certificate nothing was asked about — an intermediate with ``check =
"leaf"`` or without an OCSP URI, the self-signed root, every certificate when
Enable OCSP is off — is decided by :func:`decide_unchecked`: the validity row
when it is outside its period, else "not checked".

A must-staple certificate (RFC 7633) presented without a staple, when the
client requires staples (``stapling = "require"``), is an error whose row is
its own: RFC 7633 4.2.3 makes it a hard failure, so ``soft_fail`` never
lets it through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lab.evidence import CertStatus, CertValidity, ErrorCode, Evidence

__all__ = [
    "TABLE",
    "Cell",
    "Decision",
    "Outcome",
    "Policy",
    "PolicyRow",
    "Verdict",
    "decide",
    "decide_chain",
    "decide_unchecked",
]


class Decision(StrEnum):
    """What happens to the connection (or the trust-store upload)."""

    ALLOWED = "allowed"
    REFUSED = "refused"


class Cell(StrEnum):
    """A cell of the table: a decision, or "the soft_fail switch decides"."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    SOFT_FAIL = "soft-fail"  # allowed and flagged when soft_fail is on, else refused


class Outcome(StrEnum):
    """The table's rows."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    ERROR = "error"
    CERT_INVALID = "certificate expired / not yet valid"
    STAPLE_MISSING = "must-staple without a staple"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class PolicyRow:
    outcome: Outcome
    cc_on: Cell
    cc_off: Cell
    why: str


#: DESIGN.md "Policy" — the only place these decisions are written down.
TABLE: tuple[PolicyRow, ...] = (
    PolicyRow(Outcome.GOOD, Cell.ALLOWED, Cell.ALLOWED, "the responder vouches for it"),
    PolicyRow(Outcome.REVOKED, Cell.REFUSED, Cell.REFUSED, "revoked (or on hold) by its issuer"),
    PolicyRow(
        Outcome.UNKNOWN,
        Cell.REFUSED,
        Cell.ALLOWED,
        "a signed unknown: the responder does not know it; Common Criteria ON refuses, OFF allows",
    ),
    PolicyRow(
        Outcome.ERROR,
        Cell.SOFT_FAIL,
        Cell.SOFT_FAIL,
        "no trustworthy answer: soft_fail decides (default: on when Common Criteria is off)",
    ),
    PolicyRow(
        Outcome.CERT_INVALID,
        Cell.REFUSED,
        Cell.REFUSED,
        "the certificate itself is outside its validity period",
    ),
    PolicyRow(
        Outcome.STAPLE_MISSING,
        Cell.REFUSED,
        Cell.REFUSED,
        "a must-staple certificate came without a staple: a hard failure (RFC 7633 4.2.3), "
        "whatever soft_fail says",
    ),
    PolicyRow(
        Outcome.NOT_CHECKED,
        Cell.ALLOWED,
        Cell.ALLOWED,
        "within its validity period, the only thing looked at",
    ),
)
_ROWS = {row.outcome: row for row in TABLE}


@dataclass(frozen=True)
class Policy:
    """The two switches. ``soft_fail=None`` follows Common Criteria (on when CC is off)."""

    common_criteria: bool
    soft_fail: bool | None = None

    @property
    def effective_soft_fail(self) -> bool:
        """Whether no trustworthy answer still allows: unless set, the opposite of Common Criteria.

        The one definition of that default (DESIGN.md, "Policy");
        :meth:`lab.settings.ClientSettings.effective_soft_fail` asks it.
        """
        return (not self.common_criteria) if self.soft_fail is None else self.soft_fail


@dataclass(frozen=True)
class Verdict:
    """The decision, the row that made it, and whether it was a soft fail."""

    decision: Decision
    row: Outcome
    common_criteria: bool
    soft_failed: bool = False  # allowed only because soft_fail let an error through
    why: str = ""
    subject: str | None = None  # for a chain: which certificate decided

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED

    def explain(self) -> str:
        mode = "Common Criteria ON" if self.common_criteria else "Common Criteria OFF"
        flag = ", flagged soft-fail" if self.soft_failed else ""
        who = f" [{self.subject}]" if self.subject else ""
        return f"{self.decision.value}{flag} (row '{self.row.value}', {mode}: {self.why}){who}"

    def to_json(self) -> dict[str, object]:
        return {
            "decision": self.decision.value,
            "row": self.row.value,
            "common_criteria": self.common_criteria,
            "soft_failed": self.soft_failed,
            "why": self.why,
            "subject": self.subject,
        }


_STATUS_ROWS = {
    CertStatus.GOOD: Outcome.GOOD,
    CertStatus.REVOKED: Outcome.REVOKED,
    CertStatus.UNKNOWN: Outcome.UNKNOWN,
    CertStatus.ERROR: Outcome.ERROR,
}


def _outcome(
    validity: CertValidity, status: CertStatus | None, error: ErrorCode | None = None
) -> Outcome:
    # The validity row comes first: a good answer does not make an expired certificate valid.
    if validity is not CertValidity.VALID:
        return Outcome.CERT_INVALID
    if error is ErrorCode.STAPLE_MISSING:
        return Outcome.STAPLE_MISSING  # not the error row: soft_fail must not reach it
    return Outcome.NOT_CHECKED if status is None else _STATUS_ROWS[status]


def _verdict(outcome: Outcome, policy: Policy, subject: str | None, note: str = "") -> Verdict:
    row = _ROWS[outcome]
    cell = row.cc_on if policy.common_criteria else row.cc_off
    soft_failed = False
    if cell is Cell.SOFT_FAIL:
        soft_failed = policy.effective_soft_fail
        decision = Decision.ALLOWED if soft_failed else Decision.REFUSED
        why = f"{row.why}; soft_fail is {'on' if soft_failed else 'off'}"
    else:
        decision = Decision(cell.value)
        why = row.why
    return Verdict(
        decision=decision,
        row=row.outcome,
        common_criteria=policy.common_criteria,
        soft_failed=soft_failed,
        why=f"{why}; {note}" if note else why,
        subject=subject,
    )


def decide(evidence: Evidence, policy: Policy) -> Verdict:
    """Look the evidence of one OCSP check up in :data:`TABLE`."""
    outcome = _outcome(evidence.cert_validity, evidence.status, evidence.error)
    return _verdict(outcome, policy, evidence.subject)


def decide_unchecked(
    subject: str | None, validity: CertValidity, policy: Policy, because: str
) -> Verdict:
    """A certificate nothing was asked about (``because`` says why): its validity period decides."""
    return _verdict(_outcome(validity, None), policy, subject, f"not asked: {because}")


def decide_chain(verdicts: Sequence[Verdict]) -> Verdict:
    """A chain is allowed only if every presented certificate is (the first refusal decides).

    ``verdicts`` holds one verdict per presented certificate, leaf first:
    :func:`decide` for a checked one, :func:`decide_unchecked` for the others.
    When all are allowed, a soft fail is shown, else the leaf's verdict.
    """
    if not verdicts:
        raise ValueError("verdicts must name at least one presented certificate")
    for verdict in verdicts:
        if not verdict.allowed:
            return verdict
    soft = [v for v in verdicts if v.soft_failed]
    return soft[0] if soft else verdicts[0]
