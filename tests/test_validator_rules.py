"""Every rule of the validator (DESIGN.md "The revocation model"), on forged responses.

Each test breaks one thing in an otherwise good answer and asserts on the one
error code (or the status and trusted_by) that must come of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.name import _ASN1Type

from lab.evidence import CertStatus, CertValidity, ErrorCode, NonceState, TrustedBy
from lab.ocsp_request import RequestedCertID
from lab.settings import Delegation
from lab.validator import (
    CheckContext,
    ValidationOptions,
    cert_validity,
    clear_memos,
    parse_response,
    parse_response_asn1,
    validate,
)
from pki import PKI, CertSpec, KeyType, PKISpec, Profile, build_pki
from tests.lookalikes import LOOKALIKE_SPECS, LOOKALIKES, SAME_KEY, same_key_other_name
from tests.ocsp_forge import NONCE_OID, NOW, Extension, Single, forge, unsuccessful

NONCE = bytes(range(32))
HOUR = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def lab() -> PKI:
    return build_lab()


def build_lab() -> PKI:
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
        # A delegated responder named like its CA: byName then names both.
        CertSpec(
            "namesake-responder",
            issuer="intermediate",
            profile=Profile.OCSP_RESPONDER,
            subject="intermediate",
        ),
        *LOOKALIKE_SPECS,
    )
    return build_pki(PKISpec.with_defaults(extra))


@pytest.fixture(autouse=True)
def _fresh_facts() -> None:
    """Each check reads its certificates afresh: the facts memo saves time, it must not decide
    (and mutation testing forks from a process whose memo is already full)."""
    clear_memos()


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


def _name(encoding: str, **attributes: str) -> asn1_x509.Name:
    """A Name in DER order (O, then CN) with every string in ``encoding``."""
    spec = asn1_core.PrintableString if encoding == "printable" else asn1_core.UTF8String
    rdns = [
        asn1_x509.RelativeDistinguishedName(
            [asn1_x509.NameTypeAndValue({"type": kind, "value": spec(value)})]
        )
        for kind, value in attributes.items()
    ]
    return asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns))


@pytest.mark.parametrize(
    ("name", "matches"),
    [
        (_name("printable", organization_name="ocsp-lab", common_name="responder"), True),
        (_name("utf8", organization_name="OCSP-Lab", common_name="Responder"), True),
        (_name("printable", organization_name="OCSP-LAB", common_name="RESPONDER"), True),
        (_name("utf8", organization_name="ocsp-lab", common_name="responder2"), False),
        (_name("utf8", organization_name="other", common_name="responder"), False),
        (_name("utf8", common_name="responder"), False),
    ],
    ids=["printable", "case", "printable-upper", "other-cn", "other-o", "fewer-rdns"],
)
def test_validate_by_name_compares_names_not_bytes(
    lab: PKI, name: asn1_x509.Name, matches: bool
) -> None:
    """RFC 5280 7.1 (RFC 4518 string preparation): case and string type do not matter."""
    assert name.dump() != cert(lab, "responder").subject.public_bytes()
    evidence = validate(answer(lab, responder_id=name), context(lab))
    if matches:
        assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
        assert evidence.signer_subject == "CN=responder,O=ocsp-lab"
    else:
        assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED
        assert "names no certificate" in (evidence.message or "")


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


# ---- lookalike signers: all of an authorized signer but one thing -------------------------


@pytest.mark.parametrize("delegation", list(Delegation), ids=lambda d: d.value)
@pytest.mark.parametrize("responder_id", ["key", "name"])
@pytest.mark.parametrize("signer", sorted(LOOKALIKES))
def test_validate_never_trusts_a_lookalike_signer(
    lab: PKI, signer: str, responder_id: str, delegation: Delegation
) -> None:
    """RFC 6960 4.2.2.2: its own key verifies the signature, so only the signer rules refuse it."""
    chain = [cert(lab, signer), cert(lab, "intermediate"), cert(lab, "root")]
    if lab[signer].issuer == "lookalike-sibling-ca":
        chain.insert(1, cert(lab, "lookalike-sibling-ca"))
    options = ValidationOptions(delegation=delegation)
    for certs in (None, chain):
        der = answer(lab, signer, responder_id=responder_id, certs=certs)
        evidence = validate(der, context(lab, options=options))
        assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED, evidence.message
        assert (evidence.status, evidence.trusted_by) == (CertStatus.ERROR, TrustedBy.NONE)


@pytest.mark.parametrize(
    ("signer", "why"),
    [
        ("lookalike-ca-name", "is neither the issuing CA nor issued directly by the issuing CA"),
        ("lookalike-sibling-ca", "is neither the issuing CA nor issued directly by the issuing CA"),
        ("lookalike-no-eku", "has no id-kp-OCSPSigning EKU"),
        ("lookalike-expired", "is outside its validity period"),
        ("lookalike-not-yet-valid", "is outside its validity period"),
    ],
    ids=["ca-name", "sibling-ca", "no-eku", "expired", "not-yet-valid"],
)
def test_validate_says_why_dtm_refused_a_lookalike(lab: PKI, signer: str, why: str) -> None:
    evidence = validate(answer(lab, signer), context(lab))
    subject = lab[signer].certificate.subject.rfc4514_string()
    assert f"dtm: {subject} {why}" in (evidence.message or "")
    assert f"trp: {subject} is not in the trust store" in (evidence.message or "")


def test_validate_refuses_the_cas_key_under_another_name_by_name(lab: PKI) -> None:
    """Case 1 of RFC 6960 4.2.2.2 is the CA itself: its key *and* its name."""
    signer = same_key_other_name(lab)
    der = forge(signer=signer, singles=[single(lab)], responder_id="name", nonce=NONCE)
    evidence = validate(der, context(lab))
    assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED, evidence.message
    assert f"CN={SAME_KEY},O=ocsp-lab is neither the issuing CA" in (evidence.message or "")


def test_validate_cas_key_by_key_names_the_ca_itself(lab: PKI) -> None:
    """byKey names the key, and the CA has it: the CA is the signer, whatever else is embedded."""
    der = forge(signer=same_key_other_name(lab), singles=[single(lab)], nonce=NONCE)
    evidence = validate(der, context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    assert evidence.signer_subject == "CN=intermediate,O=ocsp-lab"
    assert not evidence.delegated_responder


def test_validate_the_ca_reissued_with_its_name_re_encoded_is_the_ca(lab: PKI) -> None:
    """Case 1 of RFC 6960 4.2.2.2 compares names as RFC 5280 7.1 does, not byte for byte.

    The root reissues the intermediate: same key, same name in PrintableString.
    Embedded and named first, that copy is the signer (the issuing CA itself).
    """
    intermediate, root = lab["intermediate"], lab["root"]
    printable = x509.Name(
        [
            x509.NameAttribute(attribute.oid, str(attribute.value), _type=_ASN1Type.PrintableString)
            for attribute in intermediate.certificate.subject
        ]
    )
    original = intermediate.certificate
    reissued = (
        x509.CertificateBuilder()
        .subject_name(printable)
        .issuer_name(original.issuer)
        .public_key(original.public_key())
        .serial_number(original.serial_number + 1)
        .not_valid_before(original.not_valid_before_utc)
        .not_valid_after(original.not_valid_after_utc)
        .sign(root.private_key, hashes.SHA256())
    )
    assert reissued.subject.public_bytes() != original.subject.public_bytes()
    der = answer(lab, "intermediate", certs=[reissued])
    evidence = validate(der, context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)
    assert not evidence.delegated_responder
    fingerprint = reissued.fingerprint(hashes.SHA256()).hex()
    assert evidence.signer_fingerprint == fingerprint


def test_validate_lookalike_in_the_trust_store_is_a_trusted_responder(lab: PKI) -> None:
    """TRP trusts certificates, not names: put there by the administrator, it is trusted."""
    trust = (cert(lab, "root"), cert(lab, "lookalike-ca-name"))
    evidence = validate(answer(lab, "lookalike-ca-name"), context(lab, trust=trust))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.TRP)
    assert evidence.delegated_responder


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


SKEWS = [dt.timedelta(minutes=5), dt.timedelta(seconds=90)]


@pytest.mark.parametrize("skew", SKEWS, ids=["skew-5min", "skew-90s"])
@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (lambda s: {"this_update": NOW + s}, None),
        (lambda s: {"this_update": NOW + s + SECOND}, ErrorCode.FUTURE_RESPONSE),
        (lambda s: {"this_update": NOW - 3 * HOUR, "next_update": NOW - s}, None),
        (
            lambda s: {"this_update": NOW - 3 * HOUR, "next_update": NOW - s - SECOND},
            ErrorCode.STALE_RESPONSE,
        ),
        (lambda s: {"this_update": NOW - s - 24 * HOUR, "next_update": None}, None),
        (
            lambda s: {"this_update": NOW - s - 24 * HOUR - SECOND, "next_update": None},
            ErrorCode.STALE_RESPONSE,
        ),
    ],
    ids=[
        "this-update-at-skew",
        "this-update-skew-plus-1s",
        "next-update-at-skew",
        "next-update-skew-plus-1s",
        "no-next-update-at-24h-plus-skew",
        "no-next-update-24h-plus-skew-plus-1s",
    ],
)
def test_validate_freshness_boundaries(
    lab: PKI, skew: dt.timedelta, times: Any, expected: ErrorCode | None
) -> None:
    """RFC 6960 3.2 items 5-6, 4.2.2.1: exactly the skew is tolerated, one second more is not."""
    options = ValidationOptions(clock_skew=skew)
    der = answer(lab, singles=[single(lab, **times(skew))])
    evidence = validate(der, context(lab, options=options))
    assert evidence.error is expected, evidence.message
    if expected is None:
        assert evidence.status is CertStatus.GOOD


@pytest.mark.parametrize(
    ("late", "expected"), [(dt.timedelta(0), None), (SECOND, ErrorCode.STALE_RESPONSE)]
)
def test_validate_max_age_without_next_update_is_an_option(
    lab: PKI, late: dt.timedelta, expected: ErrorCode | None
) -> None:
    options = ValidationOptions(max_age_without_next_update=2 * HOUR)
    skew = options.clock_skew
    stale = single(lab, this_update=NOW - skew - 2 * HOUR - late, next_update=None)
    evidence = validate(answer(lab, singles=[stale]), context(lab, options=options))
    assert evidence.error is expected, evidence.message


def test_validate_default_clock_skew_is_five_minutes(lab: PKI) -> None:
    at = validate(
        answer(lab, singles=[single(lab, this_update=NOW + 5 * 60 * SECOND)]), context(lab)
    )
    after = single(lab, this_update=NOW + 5 * 60 * SECOND + SECOND)
    assert at.error is None
    assert validate(answer(lab, singles=[after]), context(lab)).error is ErrorCode.FUTURE_RESPONSE


@pytest.mark.parametrize(
    ("gap", "expected"), [(dt.timedelta(0), None), (-SECOND, ErrorCode.MALFORMED_RESPONSE)]
)
def test_validate_next_update_equal_to_this_update_is_well_formed(
    lab: PKI, gap: dt.timedelta, expected: ErrorCode | None
) -> None:
    evidence = validate(
        answer(lab, singles=[single(lab, this_update=NOW, next_update=NOW + gap)]), context(lab)
    )
    assert evidence.error is expected, evidence.message


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
    ids=["wrapped", "raw", "missing", "missing-required", "other", "not-sent", "not-sent-echoed"],
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


KNOWN_CRITICAL = [
    ("single", "2.5.29.21", b"\x0a\x01\x01"),  # CRL reason keyCompromise (RFC 5280 5.3.1)
    ("single", "2.5.29.24", asn1_core.GeneralizedTime(NOW).dump()),  # invalidity date (5.3.2)
    ("single", "1.3.6.1.5.5.7.48.1.6", asn1_core.GeneralizedTime(NOW).dump()),  # archive cutoff
    ("response", NONCE_OID, asn1_core.OctetString(NONCE).dump()),  # the nonce (RFC 6960 4.4.1)
]


def _with_extension(lab: PKI, where: str, extension: Extension, status: str = "revoked") -> bytes:
    if where == "response":
        nonce = None if extension.oid == NONCE_OID else NONCE
        return answer(
            lab, singles=[single(lab, status=status)], extensions=[extension], nonce=nonce
        )
    return answer(lab, singles=[single(lab, status=status, extensions=(extension,))])


@pytest.mark.parametrize(
    ("where", "oid", "value"),
    KNOWN_CRITICAL,
    ids=["crl-reason", "invalidity-date", "archive-cutoff", "nonce"],
)
def test_validate_accepts_a_known_critical_extension(
    lab: PKI, where: str, oid: str, value: bytes
) -> None:
    """RFC 6960 4.4 / RFC 5280 4.2: only an *unrecognized* critical extension refuses."""
    der = _with_extension(lab, where, Extension(oid, value, critical=True))
    for parsed in (parse_response(der), parse_response_asn1(der)):
        assert parsed.critical_extensions == ()
        assert all(s.critical_extensions == () for s in parsed.singles)
    evidence = validate(der, context(lab))
    assert evidence.error is None, evidence.message
    assert evidence.status is CertStatus.REVOKED
    assert evidence.nonce is NonceState.ECHOED


@pytest.mark.parametrize("where", ["single", "response"])
@pytest.mark.parametrize("parser", [parse_response, parse_response_asn1])
def test_validate_names_only_the_unknown_critical_extension(
    lab: PKI, where: str, parser: Any
) -> None:
    """Known critical and unknown non-critical ones are fine; the unknown critical one refuses."""
    unknown = Extension("1.2.3.4.5", b"\x05\x00", critical=True)
    quiet = Extension("1.2.3.4.6", b"\x05\x00", critical=False)
    reason = Extension("2.5.29.21", b"\x0a\x01\x01", critical=True)
    if where == "response":
        der = answer(lab, extensions=[unknown, quiet], nonce=NONCE)
        found = parser(der).critical_extensions
    else:
        changes = {"status": "revoked", "extensions": (reason, unknown, quiet)}
        der = answer(lab, singles=[single(lab, **changes)])
        found = parser(der).singles[0].critical_extensions
    assert found == ("1.2.3.4.5",)
    evidence = validate(der, context(lab))
    assert evidence.error is ErrorCode.CRITICAL_EXTENSION
    assert evidence.message == "unknown critical extension(s) 1.2.3.4.5 (RFC 6960 4.4)"


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


# ---- inspect: a captured request without the issuer ----------------------------------------


@pytest.mark.parametrize(
    ("changes", "matches"),
    [
        ({}, True),
        ({"hash_algorithm": "sha256"}, False),
        ({"name_hash": b"\x01" * 20}, False),
        ({"key_hash": b"\x02" * 20}, False),
    ],
    ids=["same", "other-hash", "other-name-hash", "other-key-hash"],
)
def test_validate_without_issuer_compares_with_the_request(
    lab: PKI, changes: dict[str, Any], matches: bool
) -> None:
    """RFC 6960 3.2 item 1 against the request's CertID when the issuer is not given."""
    trust = (cert(lab, "trusted-responder"),)
    ctx = context(lab, cert=None, issuer=None, trust=trust)
    evidence = validate(answer(lab, "trusted-responder", singles=[single(lab, **changes)]), ctx)
    if matches:
        assert evidence.status is CertStatus.GOOD, evidence.message
        cert_id = next(s for s in evidence.steps if s.name == "cert-id")
        assert cert_id.detail == "1 matching SingleResponse(s), CertID hash sha1"
    else:
        assert evidence.error is ErrorCode.NO_MATCHING_RESPONSE


def test_cert_validity_is_inclusive_at_both_ends(lab: PKI) -> None:
    """RFC 5280 4.1.2.5: notBefore and notAfter themselves are inside the validity period."""
    server = cert(lab, "server")
    begin, end = server.not_valid_before_utc, server.not_valid_after_utc
    assert cert_validity(server, begin) is CertValidity.VALID
    assert cert_validity(server, end) is CertValidity.VALID
    assert cert_validity(server, begin - SECOND) is CertValidity.NOT_YET_VALID
    assert cert_validity(server, end + SECOND) is CertValidity.EXPIRED
    assert cert_validity(None, end + SECOND) is CertValidity.VALID


def test_validate_names_every_unknown_critical_extension(lab: PKI) -> None:
    both = [Extension("1.2.3.4.5", b"\x05\x00", True), Extension("1.2.3.4.7", b"\x05\x00", True)]
    evidence = validate(answer(lab, extensions=both), context(lab))
    assert evidence.message == "unknown critical extension(s) 1.2.3.4.5, 1.2.3.4.7 (RFC 6960 4.4)"


def test_validate_echoes_a_long_nonce(lab: PKI) -> None:
    """RFC 9654 allows up to 128 octets; a longer one echoed is still reported by its length."""
    long_nonce = bytes(range(200))
    evidence = validate(answer(lab, nonce=long_nonce), context(lab, nonce=long_nonce))
    nonce = next(s for s in evidence.steps if s.name == "nonce")
    assert (evidence.nonce, nonce.detail) == (NonceState.ECHOED, "echoed (200 octets)")
