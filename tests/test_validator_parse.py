"""The two readers of a response (cryptography's fast path, asn1crypto's full one) agree."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any

import pytest

from lab.validator import parse_response, parse_response_asn1, subject_public_key_bits
from pki import PKI, KeyType, PKISpec, build_pki
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
