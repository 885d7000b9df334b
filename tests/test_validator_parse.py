"""The two readers of a response (cryptography's fast path, asn1crypto's full one) agree."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.validator import parse_response, parse_response_asn1, subject_public_key_bits
from lab.validator import response as response_module
from pki import PKI, IssuedCert, KeyType, PKISpec, build_pki
from pki.certid import issuer_key_hash
from tests.ocsp_forge import NOW, Extension, Single, forge


def _single(pki: PKI, **changes: Any) -> Single:
    return replace(Single(pki["server"].certificate, pki["intermediate"].certificate), **changes)


CASES: dict[str, dict[str, Any]] = {
    "good": {},
    "revoked-reason": {"single": {"status": "revoked", "reason": "keyCompromise"}},
    "revoked-no-reason": {"single": {"status": "revoked"}},
    "unknown-sha256": {"single": {"status": "unknown", "hash_algorithm": "sha256"}},
    "no-next-update": {"single": {"next_update": None}},
    "by-name-no-certs": {"responder_id": "name", "certs": []},
    "nonce-and-critical": {
        "nonce": b"\x01" * 32,
        "extensions": [Extension("1.2.3.4", b"\x05\x00", critical=True)],
    },
    "critical-single-extension": {
        "single": {"extensions": (Extension("1.2.3.4", b"\x05\x00", critical=True),)}
    },
    "sha1-signature": {"signature_hash": "sha1"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_fast_and_full_parsers_agree(default_pki: PKI, case: str) -> None:
    spec = dict(CASES[case])
    single = _single(default_pki, **spec.pop("single", {}))
    der = forge(signer=default_pki["responder"], singles=[single], **spec)
    fast, full = parse_response(der), parse_response_asn1(der)
    # byName: cryptography re-encodes the Name; both forms denote the same name.
    assert replace(fast, responder_id=b"", responder_id_text="") == replace(
        full, responder_id=b"", responder_id_text=""
    )
    assert fast.responder_id_text == full.responder_id_text


@pytest.mark.parametrize("key", [KeyType.EC_P256, KeyType.EC_P384, KeyType.ED25519])
def test_subject_public_key_bits_match_certid(key: KeyType) -> None:
    cert = build_pki(PKISpec(key=key))["intermediate"].certificate
    assert hashlib.sha1(subject_public_key_bits(cert)).digest() == issuer_key_hash(cert, "sha1")


def test_subject_public_key_bits_match_certid_rsa() -> None:
    """RSA (one cached key): PKCS#1 RSAPublicKey is the BIT STRING's value."""
    from pki import CertSpec, Profile

    spec = PKISpec.with_defaults(
        (
            CertSpec(
                "responder",
                issuer="intermediate",
                profile=Profile.OCSP_RESPONDER,
                key=KeyType.RSA_2048,
            ),
        )
    )
    cert = build_pki(spec)["responder"].certificate
    assert hashlib.sha1(subject_public_key_bits(cert)).digest() == issuer_key_hash(cert, "sha1")


def test_several_single_responses_take_the_full_parser(default_pki: PKI) -> None:
    der = forge(
        signer=default_pki["responder"],
        singles=[_single(default_pki), _single(default_pki, serial=7, status="revoked")],
    )
    parsed = parse_response(der)
    assert [s.status.value for s in parsed.singles] == ["good", "revoked"]
    assert parsed == parse_response_asn1(der)
    assert NOW - dt.timedelta(hours=1) == parsed.singles[0].this_update


# ---- one reader: the fast path is cryptography's, asn1crypto holds it to account ---------


@pytest.fixture(scope="module")
def lab_responses() -> list[bytes]:
    """Answers of the lab's own responder: good, revoked, unknown; byKey and byName, chain."""
    from responder.app import create_app
    from responder.clock import FixedClock
    from responder.config import CertsIncluded, ResponderConfig, ResponderIdKind
    from responder.testing import demo_spec, ocsp_request

    pki = build_pki(demo_spec())
    answers = []
    for config in (
        ResponderConfig(),
        ResponderConfig(responder_id=ResponderIdKind.NAME, certs=CertsIncluded.CHAIN),
    ):
        client = create_app(pki, config=config, clock=FixedClock(NOW)).test_client()
        for leaf in ("server", "revoked-leaf", "unknown-leaf"):
            request = ocsp_request(pki, [leaf], nonce=b"\x07" * 16)
            answers.append(client.post("/", data=request).data)
    return answers


def test_lab_responses_take_the_fast_path(
    lab_responses: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common shape never reaches asn1crypto (speed: DESIGN.md, bench/)."""

    def must_not_run(der: bytes) -> None:
        raise AssertionError("the asn1crypto reader ran for a common response")

    expected = [parse_response_asn1(der) for der in lab_responses]
    monkeypatch.setattr(response_module, "_parse_asn1", must_not_run)
    assert [parse_response(der) for der in lab_responses] == expected
    assert {p.responder_id_kind for p in expected} == {"by_key", "by_name"}


def test_a_programming_error_in_the_fast_reader_propagates(
    default_pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only parse errors fall back to asn1crypto; a bug is not hidden behind the other reader."""
    der = forge(signer=default_pki["responder"], singles=[_single(default_pki)])

    def broken(cert: object, der: bytes) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(response_module.FACTS, "read", broken)
    with pytest.raises(TypeError, match="a bug"):
        parse_response(der)


_mutations = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1 << 16), st.integers(1, 255)),
    min_size=1,
    max_size=3,
)


@given(index=st.integers(min_value=0, max_value=5), edits=_mutations)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_whenever_the_fast_reader_returns_asn1crypto_agrees(
    lab_responses: list[bytes], index: int, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(lab_responses[index])
    for position, xor in edits:
        data[position % len(data)] ^= xor
    der = bytes(data)
    try:
        fast = response_module._read_fast(der)[0]
    except (ValueError, UnsupportedAlgorithm, x509.InvalidVersion, x509.DuplicateExtension):
        return  # cryptography refused: the asn1crypto reader alone decides
    assert parse_response_asn1(der) == fast


def _signer_named(default_pki: PKI, subject: x509.Name) -> IssuedCert:
    """The default responder's key in a certificate of another subject (for byName)."""
    responder = default_pki["responder"]
    cert = responder.certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(77)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
    )
    signed = builder.sign(default_pki["intermediate"].private_key, hashes.SHA256())  # type: ignore[arg-type]
    return replace(responder, certificate=signed)


def test_responder_names_print_one_way_whichever_reader_ran(default_pki: PKI) -> None:
    """cryptography's RFC 4514 form for both: DC, emailAddress, multi-valued RDNs, unknown OIDs."""
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "lab")]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Lab, Inc."),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "OCSP"),
                ]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ocsp@lab.example")]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.ObjectIdentifier("1.2.3.4.5"), "odd")]
            ),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "#resp")]),
        ]
    )
    signer = _signer_named(default_pki, subject)
    der = forge(signer=signer, singles=[_single(default_pki)], responder_id="name")
    expected = "byName " + signer.certificate.subject.rfc4514_string()  # as encoded (DER order)
    assert parse_response(der).responder_id_text == expected
    assert parse_response_asn1(der).responder_id_text == expected
    # Several SingleResponses: only asn1crypto reads it, and it prints the same.
    several = forge(
        signer=signer,
        singles=[_single(default_pki), _single(default_pki, serial=9)],
        responder_id="name",
    )
    assert parse_response(several).responder_id_text == expected


_REASON = Extension("2.5.29.21", asn1_crl.CRLReason("key_compromise").dump())
_INVALIDITY = Extension(
    "2.5.29.24", asn1_core.GeneralizedTime(dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.UTC)).dump()
)
_SINGLE_NONCE = Extension("1.3.6.1.5.5.7.48.1.2", asn1_core.OctetString(b"\xab\xcd").dump())
_PRIVATE = Extension("1.2.3.4", b"\x05\x00")


def test_every_single_extension_is_kept_readably(default_pki: PKI) -> None:
    """OID, criticality and a readable value, the same from both readers (RFC 6960 4.4)."""
    extensions = (_REASON, _INVALIDITY, _SINGLE_NONCE, _PRIVATE)
    single = _single(default_pki, status="revoked", reason="keyCompromise", extensions=extensions)
    der = forge(signer=default_pki["responder"], singles=[single])
    fast, full = parse_response(der), parse_response_asn1(der)
    assert fast == full
    assert [str(e) for e in fast.singles[0].extensions] == [
        "CRL reason (2.5.29.21): keyCompromise",
        "invalidity date (2.5.29.24): 2025-02-03 04:05:06Z",
        "nonce (1.3.6.1.5.5.7.48.1.2): ABCD",
        "1.2.3.4: 0500",
    ]
    assert fast.singles[0].critical_extensions == ()
