"""What the evidence says, word for word: each refusal and each step of a check.

The evidence is for a person (``check``, ``inspect``, ``explain`` and the
reports print it), so its words are behaviour: a refusal names the model, the
certificate and the rule (RFC 6960 4.2.2.2, 3.2, 4.4.1), a step says what was
compared. Each case states the exact text once; mutation testing
(docs/mutation-testing.md) found these words otherwise unread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lab.evidence import Evidence, StepOutcome
from lab.settings import Delegation
from lab.validator import CheckContext, ValidationOptions, clear_memos, validate
from pki import PKI
from pki.certid import issuer_key_hash
from tests.ocsp_forge import NOW
from tests.test_validator_rules import HOUR, answer, build_lab, cert, context, single

PASS, WARN, FAIL, SKIP = StepOutcome.PASS, StepOutcome.WARN, StepOutcome.FAIL, StepOutcome.SKIP
Case = Callable[[PKI], Evidence]


@pytest.fixture(scope="module")
def lab() -> PKI:
    """The rules' PKI: the default one, the odd responders and the lookalikes."""
    return build_lab()


@pytest.fixture(autouse=True)
def _fresh_facts() -> None:
    clear_memos()  # each check reads its certificates afresh (mutation testing forks)


def _rid(lab: PKI, name: str) -> str:
    return "byKey " + issuer_key_hash(cert(lab, name), "sha1").hex().upper()


def _serial(lab: PKI) -> str:
    return format(cert(lab, "server").serial_number, "X")


def _trust(lab: PKI, *names: str) -> tuple[Any, ...]:
    return (cert(lab, "root"), *(cert(lab, n) for n in names))


# ---- refusals: evidence.message is the failed step's detail --------------------------------

REFUSALS: dict[str, tuple[Case, str]] = {
    "signer-not-found": (
        lambda lab: validate(answer(lab, responder_id=b"\0" * 20), context(lab)),
        "ResponderID byKey " + "00" * 20 + " names no certificate in the response, "
        "the issuer or the trust store (signer not found)",
    ),
    "not-delegated": (
        lambda lab: validate(answer(lab, "root-responder"), context(lab)),
        "dtm: CN=root-responder,O=ocsp-lab is neither the issuing CA nor issued directly by "
        "the issuing CA; trp: CN=root-responder,O=ocsp-lab is not in the trust store",
    ),
    "not-delegated-any-ca": (
        lambda lab: validate(
            answer(lab, "lookalike-sibling-responder"),
            context(lab, options=ValidationOptions(delegation=Delegation.ANY_CA)),
        ),
        "dtm: CN=lookalike-sibling-responder,O=ocsp-lab is neither the issuing CA nor issued "
        "directly by a CA of the path (CN=intermediate,O=ocsp-lab: the signature does not "
        "verify); trp: CN=lookalike-sibling-responder,O=ocsp-lab is not in the trust store",
    ),
    "no-eku": (
        lambda lab: validate(answer(lab, "no-eku-responder"), context(lab)),
        "dtm: CN=no-eku-responder,O=ocsp-lab has no id-kp-OCSPSigning EKU; "
        "trp: CN=no-eku-responder,O=ocsp-lab is not in the trust store",
    ),
    "expired": (
        lambda lab: validate(answer(lab, "expired-responder"), context(lab)),
        "dtm: CN=expired-responder,O=ocsp-lab is outside its validity period; "
        "trp: CN=expired-responder,O=ocsp-lab is not in the trust store",
    ),
    "trp-no-eku": (
        lambda lab: validate(
            answer(lab, "trusted-no-eku"), context(lab, trust=_trust(lab, "trusted-no-eku"))
        ),
        "dtm: CN=trusted-no-eku,O=ocsp-lab is neither the issuing CA nor issued directly by "
        "the issuing CA; trp: CN=trusted-no-eku,O=ocsp-lab is in the trust store but has no "
        "id-kp-OCSPSigning EKU",
    ),
    "trp-expired": (
        lambda lab: validate(
            answer(lab, "trusted-expired"), context(lab, trust=_trust(lab, "trusted-expired"))
        ),
        "dtm: CN=trusted-expired,O=ocsp-lab is neither the issuing CA nor issued directly by "
        "the issuing CA; trp: CN=trusted-expired,O=ocsp-lab is in the trust store but outside "
        "its validity period",
    ),
    "bad-signature": (
        lambda lab: validate(answer(lab, corrupt_signature=True), context(lab)),
        "dtm: the signature does not verify with CN=responder,O=ocsp-lab's key; "
        "trp: CN=responder,O=ocsp-lab is not in the trust store",
    ),
    "no-issuer": (
        lambda lab: validate(answer(lab, "trusted-responder"), context(lab, issuer=None)),
        "dtm: no issuing CA given; trp: CN=trusted-responder,O=ocsp-lab is not in the trust store",
    ),
    "future": (
        lambda lab: validate(
            answer(lab, singles=[single(lab, this_update=NOW + 2 * HOUR)]), context(lab)
        ),
        "thisUpdate 2025-03-01 14:00:00Z is after now 2025-03-01 12:00:00Z + skew",
    ),
    "stale": (
        lambda lab: validate(
            answer(lab, singles=[single(lab, this_update=NOW - 3 * HOUR, next_update=NOW - HOUR)]),
            context(lab),
        ),
        "nextUpdate 2025-03-01 11:00:00Z has passed (now 2025-03-01 12:00:00Z)",
    ),
    "no-next-update-old": (
        lambda lab: validate(
            answer(lab, singles=[single(lab, this_update=NOW - 30 * HOUR, next_update=None)]),
            context(lab),
        ),
        "no nextUpdate and thisUpdate 2025-02-28 06:00:00Z is more than 1 day, 0:00:00 old",
    ),
    "next-before-this": (
        lambda lab: validate(
            answer(lab, singles=[single(lab, next_update=NOW - 2 * HOUR)]), context(lab)
        ),
        "nextUpdate is before thisUpdate",
    ),
    "nonce-required": (
        lambda lab: validate(
            answer(lab, nonce=None),
            context(lab, options=ValidationOptions(require_nonce=True)),
        ),
        "nonce sent but not echoed (require_nonce)",
    ),
    "nonce-other": (
        lambda lab: validate(answer(lab, nonce=b"\xff" * 32), context(lab)),
        "the response echoes another nonce (sent 000102030405060708090A0B0C0D0E0F101112131415"
        "161718191A1B1C1D1E1F, received " + "FF" * 32 + ")",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal_says_what_failed(lab: PKI, case: str) -> None:
    run, message = REFUSALS[case]
    evidence = run(lab)
    assert evidence.message == message
    failed = [s for s in evidence.steps if s.outcome is FAIL]
    assert [s.detail for s in failed] == [message]


@pytest.mark.parametrize("strict", [False, True])
def test_no_matching_response_names_the_serial(lab: PKI, strict: bool) -> None:
    options = ValidationOptions(strict_cert_id=strict)
    changes: dict[str, Any] = {"hash_algorithm": "sha256"} if strict else {"serial": 12345}
    der = answer(lab, singles=[single(lab, **changes)])
    evidence = validate(der, context(lab, options=options))
    expected = f"none of the 1 SingleResponse(s) is for serial {_serial(lab)} of this issuer"
    if strict:
        expected += " with the request's hash (strict_cert_id)"
    assert evidence.message == expected


# ---- accepted answers: every step, in order -------------------------------------------------


def _steps(evidence: Evidence) -> list[tuple[str, StepOutcome, str]]:
    return [(s.name, s.outcome, s.detail) for s in evidence.steps]


def _head(lab: PKI, signer: str, how: str, model: str = "dtm", extensions: int = 1) -> list[Any]:
    return [
        (
            "response",
            PASS,
            f"successful, 1 SingleResponse(s), ResponderID {_rid(lab, signer)}, "
            "producedAt 2025-03-01 12:00:00Z, 1 certificate(s) embedded",
        ),
        ("signer", PASS, f"{model}: CN={signer},O=ocsp-lab, {how}; signature verifies"),
    ]


FRESH = ("freshness", PASS, "thisUpdate 2025-03-01 11:00:00Z, nextUpdate 2025-03-02 12:00:00Z")
ECHOED = ("nonce", PASS, "echoed (32 octets)")
SHA1 = ("cert-id", PASS, "1 matching SingleResponse(s), CertID hash sha1")
ONE_EXTENSION = ("extensions", PASS, "no unknown critical extension (1 response extension(s))")


def test_steps_of_a_delegated_good(lab: PKI) -> None:
    evidence = validate(answer(lab), context(lab))
    assert evidence.message == "good, signed by CN=responder,O=ocsp-lab (dtm)"
    assert _steps(evidence) == [
        *_head(lab, "responder", "a delegated responder issued by the CA"),
        ONE_EXTENSION,
        SHA1,
        FRESH,
        ECHOED,
        ("cert-status", PASS, "good"),
    ]
    assert evidence.warnings == ()


def test_steps_of_a_revoked_signed_by_the_ca(lab: PKI) -> None:
    revoked = single(lab, status="revoked", reason="keyCompromise")
    evidence = validate(answer(lab, "intermediate", singles=[revoked]), context(lab))
    assert evidence.message == "revoked, signed by CN=intermediate,O=ocsp-lab (dtm)"
    assert _steps(evidence) == [
        *_head(lab, "intermediate", "the issuing CA itself"),
        ONE_EXTENSION,
        SHA1,
        FRESH,
        ECHOED,
        ("cert-status", PASS, "revoked, reason keyCompromise, since 2025-02-27 12:00:00Z"),
    ]


def test_steps_of_a_trusted_responder_without_nonce_or_next_update(lab: PKI) -> None:
    der = answer(
        lab,
        "trusted-responder",
        singles=[single(lab, status="revoked", this_update=NOW - 3 * HOUR, next_update=None)],
        nonce=None,
    )
    evidence = validate(der, context(lab, trust=_trust(lab, "trusted-responder")))
    warning = "nonce sent but not echoed (a pre-produced answer?)"
    assert _steps(evidence) == [
        *_head(
            lab,
            "trusted-responder",
            "a designated OCSP signing certificate of the trust store",
            "trp",
        ),
        ("extensions", PASS, "no unknown critical extension"),
        SHA1,
        (
            "freshness",
            PASS,
            "thisUpdate 2025-03-01 09:00:00Z, no nextUpdate (fresh until 2025-03-02 09:00:00Z)",
        ),
        ("nonce", WARN, warning),
        ("cert-status", PASS, "revoked, reason none given, since 2025-02-27 12:00:00Z"),
    ]
    assert evidence.warnings == (warning,)


def test_warnings_of_a_responder_without_nocheck_answering_sha256(lab: PKI) -> None:
    der = answer(lab, "no-nocheck-responder", singles=[single(lab, hash_algorithm="sha256")])
    evidence = validate(der, context(lab))
    nocheck = (
        "delegated responder CN=no-nocheck-responder,O=ocsp-lab has no id-pkix-ocsp-nocheck "
        "(RFC 6960 4.2.2.2.1); its own revocation is not checked"
    )
    recomputed = "answered with a sha256 CertID to a sha1 request (recomputed)"
    assert evidence.warnings == (nocheck, recomputed)
    steps = _steps(evidence)
    assert ("signer", WARN, nocheck) in steps
    assert steps.index(("signer", WARN, nocheck)) == 2  # right after the signer it is about
    assert ("cert-id", PASS, "1 matching SingleResponse(s), CertID hash sha256") in steps
    assert steps.index(("cert-id", WARN, recomputed)) == 5


def test_cert_id_step_says_what_it_could_not_check(lab: PKI) -> None:
    """``inspect`` with neither issuer nor certificate nor request: nothing to compare with."""
    context_ = CheckContext(now=NOW, trust=(cert(lab, "trusted-responder"),))
    evidence = validate(answer(lab, "trusted-responder", nonce=None), context_)
    cert_id = next(s for s in evidence.steps if s.name == "cert-id")
    assert cert_id.detail == (
        "1 matching SingleResponse(s), CertID hash sha1 "
        "(no issuer or request given: issuer hashes not checked) "
        "(no certificate or request given: serial not checked)"
    )
    nonce = next(s for s in evidence.steps if s.name == "nonce")
    assert (nonce.outcome, nonce.detail) == (SKIP, "none sent")
