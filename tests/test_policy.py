"""DESIGN.md's policy table, row by row, and the soft_fail axis kept apart from Common Criteria."""

from __future__ import annotations

import pytest

from lab.evidence import CertStatus, CertValidity, ErrorCode, Evidence
from lab.policy import TABLE, Decision, Outcome, Policy, decide, decide_chain, decide_unchecked
from lab.settings import ClientSettings

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
    assert decide_chain([good, unknown]).allowed
    chain = decide_chain([good, revoked, unknown])
    assert (chain.decision, chain.row) == (R, Outcome.REVOKED)


def test_decide_chain_reports_soft_fail() -> None:
    policy = Policy(common_criteria=False)
    verdicts = [decide(evidence(s), policy) for s in (CertStatus.GOOD, CertStatus.ERROR)]
    assert decide_chain(verdicts).soft_failed


def test_verdict_explains_its_row() -> None:
    verdict = decide(evidence(CertStatus.UNKNOWN), Policy(common_criteria=True))
    assert "row 'unknown'" in verdict.explain()
    assert "Common Criteria ON" in verdict.explain()


@pytest.mark.parametrize(
    ("validity", "decision", "row"),
    [
        (CertValidity.VALID, A, Outcome.NOT_CHECKED),
        (CertValidity.EXPIRED, R, Outcome.CERT_INVALID),
        (CertValidity.NOT_YET_VALID, R, Outcome.CERT_INVALID),
    ],
)
@pytest.mark.parametrize("cc", [True, False])
@pytest.mark.parametrize("soft_fail", [None, True, False])
def test_decide_unchecked_looks_at_validity_only(
    validity: CertValidity, decision: Decision, row: Outcome, cc: bool, soft_fail: bool | None
) -> None:
    """Nothing asked: the validity row refuses in both modes, whatever soft_fail says."""
    policy = Policy(common_criteria=cc, soft_fail=soft_fail)
    verdict = decide_unchecked("CN=intermediate", validity, policy, 'check = "leaf"')
    assert (verdict.decision, verdict.row, verdict.soft_failed) == (decision, row, False)
    assert verdict.subject == "CN=intermediate"
    assert 'not asked: check = "leaf"' in verdict.explain()


def test_decide_chain_refuses_for_an_unchecked_expired_certificate() -> None:
    policy = Policy(common_criteria=False)
    leaf = decide(evidence(CertStatus.GOOD), policy)
    expired = decide_unchecked("CN=intermediate", CertValidity.EXPIRED, policy, "no OCSP URI")
    root = decide_unchecked("CN=root", CertValidity.VALID, policy, "self-signed")
    chain = decide_chain([leaf, expired, root])
    assert (chain.decision, chain.row, chain.subject) == (R, Outcome.CERT_INVALID, expired.subject)
    assert decide_chain([leaf, root]) is leaf


def test_one_soft_fail_default() -> None:
    """ClientSettings asks the policy: one definition of "soft_fail follows Common Criteria"."""
    for soft_fail in (None, True, False):
        for cc in (True, False):
            settings = ClientSettings(soft_fail=soft_fail)
            policy = Policy(common_criteria=cc, soft_fail=soft_fail)
            assert settings.effective_soft_fail(cc) is policy.effective_soft_fail
            assert settings.policy(cc) == policy
