"""A verdict in full: every field, its words, its JSON, and decide_chain's edges.

``test_policy.py`` holds the table's decisions; this holds what a verdict tells
(reports and ``check --json`` print it) and which verdict of a chain speaks
for it. Mutation testing (docs/mutation-testing.md) found these unread.
"""

from __future__ import annotations

import pytest

from lab.evidence import CertStatus, CertValidity, ErrorCode, Evidence
from lab.policy import Decision, Outcome, Policy, Verdict, decide, decide_chain

WHY_ERROR = "no trustworthy answer: soft_fail decides (default: on when Common Criteria is off)"


def evidence(status: CertStatus, subject: str | None = "CN=server,O=ocsp-lab") -> Evidence:
    error = ErrorCode.TIMEOUT if status is CertStatus.ERROR else None
    return Evidence(status=status, error=error, cert_validity=CertValidity.VALID, subject=subject)


@pytest.mark.parametrize(
    ("status", "cc", "soft_fail", "expected"),
    [
        (
            CertStatus.GOOD,
            True,
            None,
            Verdict(
                Decision.ALLOWED, Outcome.GOOD, True, False, "the responder vouches for it", "CN=s"
            ),
        ),
        (
            CertStatus.ERROR,
            False,
            None,
            Verdict(
                Decision.ALLOWED,
                Outcome.ERROR,
                False,
                True,
                f"{WHY_ERROR}; soft_fail is on",
                "CN=s",
            ),
        ),
        (
            CertStatus.ERROR,
            True,
            None,
            Verdict(
                Decision.REFUSED,
                Outcome.ERROR,
                True,
                False,
                f"{WHY_ERROR}; soft_fail is off",
                "CN=s",
            ),
        ),
        (
            CertStatus.ERROR,
            True,
            True,
            Verdict(
                Decision.ALLOWED, Outcome.ERROR, True, True, f"{WHY_ERROR}; soft_fail is on", "CN=s"
            ),
        ),
    ],
    ids=["good", "error-soft", "error-hard", "error-soft-with-cc"],
)
def test_decide_gives_every_field(
    status: CertStatus, cc: bool, soft_fail: bool | None, expected: Verdict
) -> None:
    verdict = decide(evidence(status, "CN=s"), Policy(common_criteria=cc, soft_fail=soft_fail))
    assert verdict == expected
    assert verdict.soft_failed is expected.soft_failed  # a bool, not a falsy stand-in


def test_verdict_words_and_json() -> None:
    soft = decide(evidence(CertStatus.ERROR), Policy(common_criteria=False))
    assert soft.explain() == (
        f"allowed, flagged soft-fail (row 'error', Common Criteria OFF: {WHY_ERROR}; "
        "soft_fail is on) [CN=server,O=ocsp-lab]"
    )
    plain = decide(evidence(CertStatus.REVOKED, subject=None), Policy(common_criteria=True))
    assert plain.explain() == (
        "refused (row 'revoked', Common Criteria ON: revoked (or on hold) by its issuer)"
    )
    assert soft.to_json() == {
        "decision": "allowed",
        "row": "error",
        "common_criteria": False,
        "soft_failed": True,
        "why": f"{WHY_ERROR}; soft_fail is on",
        "subject": "CN=server,O=ocsp-lab",
    }


def test_decide_chain_of_nothing_is_a_usage_error() -> None:
    with pytest.raises(
        ValueError, match=r"^verdicts must name at least one presented certificate$"
    ):
        decide_chain([])


def test_decide_chain_speaks_with_the_first_refusal_or_soft_fail_else_the_leaf() -> None:
    policy = Policy(common_criteria=False)
    leaf = decide(evidence(CertStatus.GOOD, "CN=leaf"), policy)
    ca = decide(evidence(CertStatus.GOOD, "CN=ca"), policy)
    soft = decide(evidence(CertStatus.ERROR, "CN=soft"), policy)
    soft_too = decide(evidence(CertStatus.ERROR, "CN=soft-too"), policy)
    refused = decide(evidence(CertStatus.REVOKED, "CN=revoked"), policy)
    refused_too = decide(evidence(CertStatus.REVOKED, "CN=revoked-too"), policy)
    assert decide_chain([leaf, ca]) is leaf
    assert decide_chain([leaf, soft, soft_too]) is soft
    assert decide_chain([leaf, soft, refused, refused_too]) is refused
