"""DESIGN.md's policy table, row by row, and the soft_fail axis kept apart from Common Criteria."""

from __future__ import annotations

import pytest

from lab.evidence import CertStatus, CertValidity, ErrorCode, Evidence
from lab.policy import TABLE, Decision, Outcome, Policy, decide, decide_chain

A, R = Decision.ALLOWED, Decision.REFUSED


def evidence(status: CertStatus, validity: CertValidity = CertValidity.VALID) -> Evidence:
    error = ErrorCode.TIMEOUT if status is CertStatus.ERROR else None
    return Evidence(status=status, error=error, cert_validity=validity)


@pytest.mark.parametrize(
    ("status", "validity", "cc_on", "cc_off", "row"),
    [
        (CertStatus.GOOD, CertValidity.VALID, A, A, Outcome.GOOD),
        (CertStatus.REVOKED, CertValidity.VALID, R, R, Outcome.REVOKED),
        (CertStatus.UNKNOWN, CertValidity.VALID, R, A, Outcome.UNKNOWN),
        (CertStatus.ERROR, CertValidity.VALID, R, A, Outcome.ERROR),
        (CertStatus.GOOD, CertValidity.EXPIRED, R, R, Outcome.CERT_INVALID),
        (CertStatus.GOOD, CertValidity.NOT_YET_VALID, R, R, Outcome.CERT_INVALID),
        (CertStatus.UNKNOWN, CertValidity.EXPIRED, R, R, Outcome.CERT_INVALID),
    ],
)
def test_decide_follows_design_table(
    status: CertStatus, validity: CertValidity, cc_on: Decision, cc_off: Decision, row: Outcome
) -> None:
    on = decide(evidence(status, validity), Policy(common_criteria=True))
    off = decide(evidence(status, validity), Policy(common_criteria=False))
    assert (on.decision, off.decision) == (cc_on, cc_off)
    assert on.row is off.row is row


def test_decide_flags_soft_fail_only_for_errors() -> None:
    assert decide(evidence(CertStatus.ERROR), Policy(common_criteria=False)).soft_failed
    assert not decide(evidence(CertStatus.UNKNOWN), Policy(common_criteria=False)).soft_failed


@pytest.mark.parametrize("cc", [True, False])
@pytest.mark.parametrize("soft_fail", [True, False])
def test_soft_fail_is_its_own_axis(cc: bool, soft_fail: bool) -> None:
    """soft_fail decides errors whatever Common Criteria says, and nothing else."""
    policy = Policy(common_criteria=cc, soft_fail=soft_fail)
    assert decide(evidence(CertStatus.ERROR), policy).decision is (A if soft_fail else R)
    assert decide(evidence(CertStatus.UNKNOWN), policy).decision is (R if cc else A)
    assert decide(evidence(CertStatus.REVOKED), policy).decision is R


def test_table_has_one_row_per_outcome() -> None:
    assert sorted(r.outcome for r in TABLE) == sorted(Outcome)


def test_decide_chain_needs_every_certificate_allowed() -> None:
    policy = Policy(common_criteria=False)
    good = decide(evidence(CertStatus.GOOD), policy)
    unknown = decide(evidence(CertStatus.UNKNOWN), policy)
    revoked = decide(evidence(CertStatus.REVOKED), policy)
    assert decide_chain([good, unknown], policy).allowed
    chain = decide_chain([good, revoked, unknown], policy)
    assert (chain.decision, chain.row) == (R, Outcome.REVOKED)


def test_decide_chain_reports_soft_fail() -> None:
    policy = Policy(common_criteria=False)
    verdicts = [decide(evidence(s), policy) for s in (CertStatus.GOOD, CertStatus.ERROR)]
    assert decide_chain(verdicts, policy).soft_failed


def test_verdict_explains_its_row() -> None:
    verdict = decide(evidence(CertStatus.UNKNOWN), Policy(common_criteria=True))
    assert "row 'unknown'" in verdict.explain()
    assert "Common Criteria ON" in verdict.explain()
