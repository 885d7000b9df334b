"""What a field response says, shown: its version, every singleExtension, both nonces.

``inspect`` prints the steps' details, so these land there: a v2 ResponseData
is a warning step (RFC 6960 4.2.1 defines v1 only), the singleExtensions of
the matching SingleResponse are in the ``cert-id`` step (RFC 6960 4.4), and a
nonce mismatch names the nonce sent and the one received (RFC 9654).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core as asn1_core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from lab.cli import main
from lab.evidence import CertStatus, ErrorCode, StepOutcome
from lab.ocsp_request import RequestedCertID
from lab.validator import CheckContext, parse_response, validate
from pki import PKI
from tests.ocsp_forge import NOW, Extension, Single, forge


def _single(pki: PKI, **changes: Any) -> Single:
    return replace(Single(pki["server"].certificate, pki["intermediate"].certificate), **changes)


def _context(pki: PKI, nonce: bytes | None = None) -> CheckContext:
    server, intermediate = pki["server"].certificate, pki["intermediate"].certificate
    return CheckContext(
        now=NOW,
        cert=server,
        issuer=intermediate,
        requested=RequestedCertID.for_cert(server, intermediate),
        nonce=nonce,
    )


def _with_version(der: bytes, version: int, key: ec.EllipticCurvePrivateKey) -> bytes:
    """``der`` with ResponseData.version set (RFC 6960 4.2.1), signed again (ECDSA-SHA256)."""
    response = asn1_ocsp.OCSPResponse.load(der)
    basic = response["response_bytes"]["response"].parsed
    tbs = asn1_ocsp.ResponseData.load(basic["tbs_response_data"].dump())
    tbs["version"] = version
    tbs_der = tbs.dump(force=True)
    rebuilt = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": asn1_ocsp.ResponseData.load(tbs_der),
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": key.sign(tbs_der, ec.ECDSA(hashes.SHA256())),
            "certs": basic["certs"],
        }
    )
    out: bytes = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": rebuilt},
        }
    ).dump()
    return out


def test_the_response_version_is_kept(default_pki: PKI) -> None:
    responder = default_pki["responder"]
    der = forge(signer=responder, singles=[_single(default_pki)])
    key = responder.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert parse_response(der).version == 0
    v2 = _with_version(der, 1, key)
    assert parse_response(v2).version == 1
    v1 = parse_response(_with_version(der, 0, key))
    assert replace(v1, signature=b"") == replace(parse_response(der), signature=b"")


def test_a_v2_response_is_a_warning_step(default_pki: PKI) -> None:
    responder = default_pki["responder"]
    key = responder.private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    v2 = _with_version(forge(signer=responder, singles=[_single(default_pki)]), 1, key)
    evidence = validate(v2, _context(default_pki))
    assert evidence.status is CertStatus.GOOD
    expected = "ResponseData version v2 (1): RFC 6960 4.2.1 defines only v1 (0); read as v1"
    assert expected in evidence.warnings
    assert any(
        (s.name, s.outcome, s.detail) == ("response", StepOutcome.WARN, expected)
        for s in evidence.steps
    )
    v1 = validate(forge(signer=responder, singles=[_single(default_pki)]), _context(default_pki))
    assert not [w for w in v1.warnings if "version" in w]


_EXTENSIONS = (
    Extension("2.5.29.21", asn1_crl.CRLReason("key_compromise").dump()),
    Extension(
        "2.5.29.24",
        asn1_core.GeneralizedTime(dt.datetime(2025, 2, 3, 4, 5, 6, tzinfo=dt.UTC)).dump(),
    ),
    Extension("1.3.6.1.5.5.7.48.1.2", asn1_core.OctetString(b"\xab\xcd").dump()),
)
_SHOWN = (
    "singleExtensions: CRL reason (2.5.29.21): keyCompromise; "
    "invalidity date (2.5.29.24): 2025-02-03 04:05:06Z; "
    "nonce (1.3.6.1.5.5.7.48.1.2): ABCD"
)


def test_single_extensions_are_shown_in_the_cert_id_step(default_pki: PKI) -> None:
    single = _single(default_pki, status="revoked", reason="keyCompromise", extensions=_EXTENSIONS)
    evidence = validate(
        forge(signer=default_pki["responder"], singles=[single]), _context(default_pki)
    )
    assert evidence.status is CertStatus.REVOKED
    (cert_id,) = [s for s in evidence.steps if s.name == "cert-id"]
    assert cert_id.detail.endswith(_SHOWN)


def test_inspect_prints_the_single_extensions(
    default_pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = _single(default_pki, extensions=_EXTENSIONS)
    (tmp_path / "resp.der").write_bytes(forge(signer=default_pki["responder"], singles=[single]))
    (tmp_path / "issuer.pem").write_bytes(
        default_pki["intermediate"].certificate.public_bytes(Encoding.PEM)
    )
    at = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    code = main(
        [
            "inspect",
            str(tmp_path / "resp.der"),
            "--issuer",
            str(tmp_path / "issuer.pem"),
            "--at",
            at,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert _SHOWN in out


def test_a_nonce_mismatch_names_both_nonces(default_pki: PKI) -> None:
    der = forge(signer=default_pki["responder"], singles=[_single(default_pki)], nonce=b"\x0b" * 4)
    evidence = validate(der, _context(default_pki, nonce=b"\xa1" * 4))
    assert evidence.error is ErrorCode.NONCE_MISMATCH
    assert evidence.message == (
        "the response echoes another nonce (sent A1A1A1A1, received 0B0B0B0B)"
    )
