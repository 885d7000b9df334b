"""Every rule of the validator (DESIGN.md "The revocation model"), on forged responses.

Each test breaks one thing in an otherwise good answer and asserts on the one
error code (or the status and trusted_by) that must come of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509

from lab.evidence import CertStatus, CertValidity, ErrorCode, NonceState, TrustedBy
from lab.ocsp_request import RequestedCertID
from lab.settings import Delegation
from lab.validator import CheckContext, ValidationOptions, validate
from pki import PKI, CertSpec, KeyType, PKISpec, Profile, build_pki
from tests.ocsp_forge import NOW, Extension, Single, forge, unsuccessful

NONCE = bytes(range(32))
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def lab() -> PKI:
    """The default PKI plus the odd certificates the rules need."""
    extra = (
        CertSpec("no-eku-responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER, eku=()),
        CertSpec(
            "expired-responder",
            issuer="intermediate",
            profile=Profile.OCSP_RESPONDER,
            valid_from=dt.timedelta(days=-30),
            valid_to=dt.timedelta(days=1),  # t0 + 1d: long gone at NOW (t0 + 59d)
        ),
        CertSpec(
            "no-nocheck-responder",
            issuer="intermediate",
            profile=Profile.OCSP_RESPONDER,
            nocheck=False,
        ),
        CertSpec("trusted-no-eku", profile=Profile.OCSP_RESPONDER, eku=()),
        CertSpec("impostor-trusted", profile=Profile.OCSP_RESPONDER, subject="trusted-responder"),
        CertSpec(
            "trusted-expired",
            profile=Profile.OCSP_RESPONDER,
            valid_from=dt.timedelta(days=-30),
            valid_to=dt.timedelta(days=1),
        ),
        # Same name as the intermediate, another key: RFC 6960 4.2.2.2 "same key" rule.
        CertSpec("impostor-ca", issuer="root", profile=Profile.CA, subject="intermediate"),
        CertSpec(
            "impostor-responder",
            issuer="impostor-ca",
            profile=Profile.OCSP_RESPONDER,
            subject="responder",
        ),
        CertSpec(
            "expired-server",
            issuer="intermediate",
            valid_from=dt.timedelta(days=-30),
            valid_to=dt.timedelta(days=1),
        ),
    )
    return build_pki(PKISpec.with_defaults(extra))


def cert(lab: PKI, name: str) -> x509.Certificate:
    return lab[name].certificate


def context(lab: PKI, **changes: Any) -> CheckContext:
    server, intermediate = cert(lab, "server"), cert(lab, "intermediate")
    base = CheckContext(
        now=NOW,
        cert=server,
        issuer=intermediate,
        requested=RequestedCertID.for_cert(server, intermediate, "sha1"),
        nonce=NONCE,
        trust=(cert(lab, "root"),),
        path=(cert(lab, "root"),),
    )
    return replace(base, **changes)


def single(lab: PKI, **changes: Any) -> Single:
    return replace(Single(cert(lab, "server"), cert(lab, "intermediate")), **changes)


def answer(
    lab: PKI, signer: str = "responder", singles: list[Single] | None = None, **kw: Any
) -> bytes:
    kw.setdefault("nonce", NONCE)
    return forge(signer=lab[signer], singles=singles or [single(lab)], **kw)


# ---- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "expected_reason"),
    [
        ("good", None, None),
        ("revoked", "keyCompromise", "keyCompromise"),
        ("revoked", "certificateHold", "certificateHold"),
        ("revoked", None, None),
        ("unknown", None, None),
    ],
)
def test_validate_reports_status_and_reason(
    lab: PKI, status: str, reason: str | None, expected_reason: str | None
) -> None:
    evidence = validate(
        answer(lab, singles=[single(lab, status=status, reason=reason)]), context(lab)
    )
    assert evidence.error is None, evidence.message
    assert evidence.status.value == status
    assert evidence.reason == expected_reason
    assert evidence.trusted_by is TrustedBy.DTM
    if status == "revoked":
        assert evidence.revocation_time == NOW - dt.timedelta(days=2)


# ---- who signed it ------------------------------------------------------------------------


def test_validate_accepts_issuing_ca_itself_as_dtm(lab: PKI) -> None:
    evidence = validate(answer(lab, "intermediate"), context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    assert not evidence.delegated_responder


def test_validate_accepts_delegated_responder_as_dtm(lab: PKI) -> None:
    evidence = validate(answer(lab, "responder"), context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    assert evidence.delegated_responder
    assert evidence.signer_subject == "CN=responder,O=ocsp-lab"
    assert evidence.warnings == ()


def test_validate_finds_signer_by_name(lab: PKI) -> None:
    evidence = validate(answer(lab, responder_id="name"), context(lab))
    assert evidence.trusted_by is TrustedBy.DTM
    assert evidence.responder_id == "byName CN=responder,O=ocsp-lab"


def test_validate_refuses_root_responder_for_intermediates_leaf(lab: PKI) -> None:
    evidence = validate(answer(lab, "root-responder"), context(lab))
    assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED
    assert evidence.trusted_by is TrustedBy.NONE


def test_validate_accepts_root_responder_with_any_ca_delegation(lab: PKI) -> None:
    options = ValidationOptions(delegation=Delegation.ANY_CA)
    evidence = validate(answer(lab, "root-responder"), context(lab, options=options))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)


def test_validate_falls_back_to_trp_for_root_responder_in_trust_store(lab: PKI) -> None:
    trust = (cert(lab, "root"), cert(lab, "root-responder"))
    evidence = validate(answer(lab, "root-responder"), context(lab, trust=trust))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.TRP)


@pytest.mark.parametrize(
    ("in_trust", "expected"),
    [(False, ErrorCode.SIGNER_NOT_AUTHORIZED), (True, None)],
)
def test_validate_trusted_responder_only_from_trust_store(
    lab: PKI, in_trust: bool, expected: ErrorCode | None
) -> None:
    trust = (cert(lab, "root"), *([cert(lab, "trusted-responder")] if in_trust else []))
    evidence = validate(answer(lab, "trusted-responder"), context(lab, trust=trust))
    assert evidence.error is expected
    assert evidence.trusted_by is (TrustedBy.TRP if in_trust else TrustedBy.NONE)


def test_validate_trp_needs_the_trust_store_cert_not_its_name(lab: PKI) -> None:
    """An impostor named like the designated signer, ResponderID byName: not trusted."""
    trust = (cert(lab, "root"), cert(lab, "trusted-responder"))
    der = answer(lab, "impostor-trusted", responder_id="name")
    evidence = validate(der, context(lab, trust=trust))
    assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED


@pytest.mark.parametrize(
    ("signer", "trusted"),
    [
        ("no-eku-responder", False),  # DTM: delegated responder needs id-kp-OCSPSigning
        ("expired-responder", False),  # DTM: delegated responder valid now
        ("impostor-responder", False),  # DTM: issued by the CA's *key*, not just its name
        ("trusted-no-eku", True),  # TRP: the trust-store certificate needs the EKU
        ("trusted-expired", True),  # TRP: valid now
    ],
)
def test_validate_refuses_unauthorized_signer(lab: PKI, signer: str, trusted: bool) -> None:
    trust = (cert(lab, "root"), *([cert(lab, signer)] if trusted else []))
    evidence = validate(answer(lab, signer), context(lab, trust=trust))
    assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED, evidence.message
    assert evidence.status is CertStatus.ERROR


def test_validate_warns_on_delegated_responder_without_nocheck(lab: PKI) -> None:
    evidence = validate(answer(lab, "no-nocheck-responder"), context(lab))
    assert evidence.status is CertStatus.GOOD
    assert any("nocheck" in w for w in evidence.warnings)


@pytest.mark.parametrize("signer", ["responder", "intermediate"])
def test_validate_reports_bad_signature(lab: PKI, signer: str) -> None:
    evidence = validate(answer(lab, signer, corrupt_signature=True), context(lab))
    assert evidence.error is ErrorCode.BAD_SIGNATURE


def test_validate_reports_bad_signature_for_wrong_key(lab: PKI) -> None:
    der = answer(lab, "responder", signer_key=lab["root-responder"].private_key)
    assert validate(der, context(lab)).error is ErrorCode.BAD_SIGNATURE


def test_validate_reports_unknown_responder_id(lab: PKI) -> None:
    der = answer(lab, responder_id=b"\x00" * 20)
    assert validate(der, context(lab)).error is ErrorCode.SIGNER_NOT_AUTHORIZED


def test_validate_needs_embedded_delegated_responder(lab: PKI) -> None:
    assert validate(answer(lab, certs=[]), context(lab)).error is ErrorCode.SIGNER_NOT_AUTHORIZED


def test_validate_issuing_ca_needs_no_embedded_certs(lab: PKI) -> None:
    evidence = validate(answer(lab, "intermediate", certs=[]), context(lab))
    assert evidence.trusted_by is TrustedBy.DTM


def test_validate_tolerates_extra_and_reordered_certs(lab: PKI) -> None:
    certs = [cert(lab, "root"), cert(lab, "intermediate"), cert(lab, "responder")]
    evidence = validate(answer(lab, certs=certs), context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)


def test_validate_content_failure_is_final_after_dtm(lab: PKI) -> None:
    """A stale answer from an accepted signer does not go looking for TRP."""
    trust = (cert(lab, "root"), cert(lab, "responder"))
    stale = single(lab, next_update=NOW - 2 * HOUR, this_update=NOW - 3 * HOUR)
    evidence = validate(answer(lab, singles=[stale]), context(lab, trust=trust))
    assert evidence.error is ErrorCode.STALE_RESPONSE
    assert evidence.trusted_by is TrustedBy.DTM


# ---- CertID -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"serial": 12345},
        {"name_hash": b"\x01" * 20},
        {"key_hash": b"\x02" * 20},
        {"hash_algorithm": "md5"},
    ],
    ids=["wrong-serial", "wrong-name-hash", "wrong-key-hash", "md5"],
)
def test_validate_refuses_certid_mismatch(lab: PKI, changes: dict[str, Any]) -> None:
    if changes.get("hash_algorithm") == "md5":
        changes = {**changes, "name_hash": b"\x00" * 16, "key_hash": b"\x00" * 16}
    evidence = validate(answer(lab, singles=[single(lab, **changes)]), context(lab))
    assert evidence.error is ErrorCode.NO_MATCHING_RESPONSE


def test_validate_recomputes_certid_with_responses_hash(lab: PKI) -> None:
    der = answer(lab, singles=[single(lab, hash_algorithm="sha256")])
    evidence = validate(der, context(lab))
    assert evidence.status is CertStatus.GOOD
    assert evidence.cert_id_hash == "sha256"
    assert any("sha256 CertID" in w for w in evidence.warnings)


def test_validate_strict_cert_id_needs_requests_hash(lab: PKI) -> None:
    der = answer(lab, singles=[single(lab, hash_algorithm="sha256")])
    options = ValidationOptions(strict_cert_id=True)
    assert validate(der, context(lab, options=options)).error is ErrorCode.NO_MATCHING_RESPONSE


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["good", "revoked"], CertStatus.REVOKED),
        (["revoked", "good"], CertStatus.REVOKED),
        (["good", "unknown"], CertStatus.UNKNOWN),
        (["unknown", "revoked", "good"], CertStatus.REVOKED),
    ],
)
def test_validate_several_matches_worst_wins(
    lab: PKI, statuses: list[str], expected: CertStatus
) -> None:
    singles = [single(lab, status=s) for s in statuses]
    assert validate(answer(lab, singles=singles), context(lab)).status is expected


def test_validate_ignores_singles_for_other_certificates(lab: PKI) -> None:
    singles = [single(lab, serial=99, status="revoked"), single(lab)]
    assert validate(answer(lab, singles=singles), context(lab)).status is CertStatus.GOOD


# ---- time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"this_update": NOW + 2 * HOUR}, ErrorCode.FUTURE_RESPONSE),
        ({"this_update": NOW + dt.timedelta(minutes=4)}, None),  # within the 5 min skew
        ({"this_update": NOW - 3 * HOUR, "next_update": NOW - HOUR}, ErrorCode.STALE_RESPONSE),
        ({"this_update": NOW - 3 * HOUR, "next_update": NOW - dt.timedelta(minutes=4)}, None),
        ({"this_update": NOW - 25 * HOUR, "next_update": None}, ErrorCode.STALE_RESPONSE),
        ({"this_update": NOW - 23 * HOUR, "next_update": None}, None),
        ({"next_update": NOW - 2 * HOUR}, ErrorCode.MALFORMED_RESPONSE),  # before thisUpdate
    ],
    ids=[
        "future",
        "future-within-skew",
        "stale",
        "stale-within-skew",
        "no-next-update-old",
        "no-next-update-fresh",
        "next-before-this",
    ],
)
def test_validate_checks_freshness(
    lab: PKI, changes: dict[str, Any], expected: ErrorCode | None
) -> None:
    evidence = validate(answer(lab, singles=[single(lab, **changes)]), context(lab))
    assert evidence.error is expected, evidence.message


def test_validate_clock_skew_is_an_option(lab: PKI) -> None:
    der = answer(lab, singles=[single(lab, this_update=NOW + dt.timedelta(minutes=4))])
    options = ValidationOptions(clock_skew=dt.timedelta(0))
    assert validate(der, context(lab, options=options)).error is ErrorCode.FUTURE_RESPONSE


# ---- nonce --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("echo", "sent", "require", "expected_error", "expected_state"),
    [
        ("wrapped", NONCE, False, None, NonceState.ECHOED),
        ("raw", NONCE, False, None, NonceState.ECHOED),
        ("none", NONCE, False, None, NonceState.MISSING),
        ("none", NONCE, True, ErrorCode.NONCE_MISSING, NonceState.MISSING),
        ("other", NONCE, False, ErrorCode.NONCE_MISMATCH, NonceState.MISMATCH),
        ("none", None, False, None, NonceState.NOT_SENT),
        ("wrapped", None, False, None, NonceState.NOT_SENT),
    ],
)
def test_validate_checks_nonce(
    lab: PKI,
    echo: str,
    sent: bytes | None,
    require: bool,
    expected_error: ErrorCode | None,
    expected_state: NonceState,
) -> None:
    echoes: dict[str, dict[str, Any]] = {
        "wrapped": {"nonce": NONCE},
        "raw": {"nonce": None, "raw_nonce": NONCE},
        "none": {"nonce": None},
        "other": {"nonce": b"\xff" * 32},
    }
    kw = echoes[echo]
    options = ValidationOptions(require_nonce=require)
    evidence = validate(answer(lab, **kw), context(lab, nonce=sent, options=options))
    assert evidence.error is expected_error
    assert evidence.nonce is expected_state
    if expected_state is NonceState.MISSING and expected_error is None:
        assert any("nonce" in w for w in evidence.warnings)


# ---- extensions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "oid", "critical", "expected"),
    [
        ("response", "1.2.3.4.5", True, ErrorCode.CRITICAL_EXTENSION),
        ("response", "1.2.3.4.5", False, None),
        ("response", "1.3.6.1.5.5.7.48.1.9", True, None),  # extended-revoke: known
        ("single", "1.2.3.4.5", True, ErrorCode.CRITICAL_EXTENSION),
        ("single", "1.2.3.4.5", False, None),
    ],
)
def test_validate_refuses_unknown_critical_extension(
    lab: PKI, where: str, oid: str, critical: bool, expected: ErrorCode | None
) -> None:
    extension = Extension(oid, b"\x05\x00", critical)
    if where == "response":
        der = answer(lab, extensions=[extension])
    else:
        der = answer(lab, singles=[single(lab, extensions=(extension,))])
    assert validate(der, context(lab)).error is expected


# ---- responseStatus and structure ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("malformed_request", ErrorCode.MALFORMED_REQUEST),
        ("internal_error", ErrorCode.INTERNAL_ERROR),
        ("try_later", ErrorCode.TRY_LATER),
        ("sign_required", ErrorCode.SIG_REQUIRED),
        ("unauthorized", ErrorCode.UNAUTHORIZED),
        (4, ErrorCode.MALFORMED_RESPONSE),
        (7, ErrorCode.MALFORMED_RESPONSE),
    ],
)
def test_validate_maps_unsuccessful_status(
    lab: PKI, status: str | int, expected: ErrorCode
) -> None:
    evidence = validate(unsuccessful(status), context(lab))
    assert (evidence.status, evidence.error, evidence.trusted_by) == (
        CertStatus.ERROR,
        expected,
        TrustedBy.NONE,
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>captive portal</html>", b"\x30\x03\x0a\x01", b"\x30\x03\x0a\x01\x00trailing"],
    ids=["empty", "html", "truncated", "trailing"],
)
def test_validate_refuses_unreadable_body(lab: PKI, body: bytes) -> None:
    assert validate(body, context(lab)).error is ErrorCode.MALFORMED_RESPONSE


def test_validate_refuses_successful_without_response_bytes(lab: PKI) -> None:
    assert validate(unsuccessful("successful"), context(lab)).error is ErrorCode.MALFORMED_RESPONSE


def test_validate_refuses_truncated_signed_response(lab: PKI) -> None:
    der = answer(lab)
    assert validate(der[:-10], context(lab)).error is ErrorCode.MALFORMED_RESPONSE


def test_validate_refuses_other_response_type(lab: PKI) -> None:
    der = answer(lab, response_type="1.2.3.4")
    assert validate(der, context(lab)).error is ErrorCode.MALFORMED_RESPONSE


# ---- the certificate itself and other keys ------------------------------------------------


def test_validate_reports_expired_certificate(lab: PKI) -> None:
    expired = cert(lab, "expired-server")
    requested = RequestedCertID.for_cert(expired, cert(lab, "intermediate"))
    der = answer(lab, singles=[Single(expired, cert(lab, "intermediate"))])
    evidence = validate(der, context(lab, cert=expired, requested=requested))
    assert evidence.status is CertStatus.GOOD
    assert evidence.cert_validity is CertValidity.EXPIRED


def test_validate_verifies_rsa_signatures() -> None:
    rsa_lab = build_pki(
        PKISpec.with_defaults(
            (
                CertSpec(
                    "responder",
                    issuer="intermediate",
                    profile=Profile.OCSP_RESPONDER,
                    key=KeyType.RSA_2048,
                ),
            )
        )
    )
    good = validate(answer(rsa_lab), context(rsa_lab))
    assert (good.status, good.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    bad = validate(answer(rsa_lab, corrupt_signature=True), context(rsa_lab))
    assert bad.error is ErrorCode.BAD_SIGNATURE


def test_validate_every_error_has_one_failed_step(lab: PKI) -> None:
    evidence = validate(answer(lab, corrupt_signature=True), context(lab))
    failed = [s for s in evidence.steps if s.outcome.value == "fail"]
    assert [s.name for s in failed] == ["signer"]
