"""Differential test: our "signature trusted" against ``openssl ocsp -respin … -CAfile/-VAfile``.

For every signer × every fault that touches the signature or the signer, with
and without the signer in the trust store (OpenSSL's ``-VAfile``), our signer
step passes exactly when OpenSSL prints "Response verify OK" — except where
the two differ by design, listed in :data:`DELIBERATE_DIFFERENCES` with the
reason. The PKI is built at the calendar t0 because OpenSSL uses the real
clock.

The lookalike signers of ``tests/lookalikes.py`` (the issuing CA's name with
another key, its key with another name, a sibling CA of the same name, a
responder that CA issued, one not yet valid) are among the signers: OpenSSL
must refuse them as we do.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from lab.evidence import ErrorCode
from lab.validator import CheckContext, validate
from pki import (
    PKI,
    CertificateDatabase,
    CertSpec,
    PKISpec,
    Profile,
    build_pki,
    calendar_t0,
    write_pki,
)
from tests.lookalikes import LOOKALIKE_SPECS, SAME_KEY, ForgedSigner, same_key_other_name
from tests.ocsp_forge import Signer, Single, forge

pytestmark = pytest.mark.interop

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
HOUR = dt.timedelta(hours=1)

SIGNERS = (
    "intermediate",  # the issuing CA itself
    "responder",  # delegated responder of the issuing CA
    "root-responder",  # delegated responder of the root: not for the intermediate's leaf
    "trusted-responder",  # self-signed designated OCSP signer
    "no-eku-responder",  # issued by the CA, without id-kp-OCSPSigning
    "expired-responder",  # issued by the CA, expired
    "impostor-responder",  # issued by a CA with the intermediate's name but another key
    "trusted-no-eku",  # self-signed, without id-kp-OCSPSigning
    "root",  # the root CA signing for its grandchild
    "lookalike-ca-name",  # self-signed, the issuing CA's name, another key
    "lookalike-sibling-ca",  # a CA issued by the root with the issuing CA's name, another key
    "lookalike-sibling-responder",  # an OCSP signer issued by that sibling
    "lookalike-not-yet-valid",  # issued by the CA, id-kp-OCSPSigning, not yet valid
    SAME_KEY,  # the issuing CA's key in a self-signed certificate under another name
)
FAULTS: dict[str, dict[str, Any]] = {
    "none": {},
    "corrupt-signature": {"corrupt_signature": True},
    "wrong-key": {"signer_key": "another"},
    "no-certs": {"certs": []},
    "responder-id-by-name": {"responder_id": "name"},
    "responder-id-unknown": {"responder_id": b"\x00" * 20},
}

#: (signer, fault, in trust store) → why we and OpenSSL must disagree.
_VAFILE_EKU = (
    "TRP requires id-kp-OCSPSigning on the trust-store certificate (DESIGN.md: a "
    "designated OCSP signing certificate); OpenSSL trusts any -VAfile certificate"
)
_VAFILE_EXPIRED = (
    "TRP requires the trust-store certificate to be valid now; OpenSSL skips every "
    "check (OCSP_NOVERIFY) for a -VAfile signer"
)
DELIBERATE_DIFFERENCES: dict[tuple[str, str, bool], str] = {
    **{
        (s, f, True): _VAFILE_EKU
        for s in ("no-eku-responder", "trusted-no-eku", "lookalike-sibling-ca")
        for f in ("none", "no-certs", "responder-id-by-name")
    },
    **{
        (s, f, True): _VAFILE_EXPIRED
        for s in ("expired-responder", "lookalike-not-yet-valid")
        for f in ("none", "no-certs", "responder-id-by-name")
    },
}


@dataclass(frozen=True)
class Exported:
    pki: PKI
    directory: Path
    same_key: ForgedSigner

    def signer(self, name: str) -> Signer:
        return self.same_key if name == SAME_KEY else self.pki[name]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    extra = (
        CertSpec("no-eku-responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER, eku=()),
        CertSpec(
            "expired-responder",
            issuer="intermediate",
            profile=Profile.OCSP_RESPONDER,
            valid_from=dt.timedelta(days=-30),
            valid_to=dt.timedelta(days=-2),
        ),
        CertSpec("impostor-ca", issuer="root", profile=Profile.CA, subject="intermediate"),
        CertSpec(
            "impostor-responder",
            issuer="impostor-ca",
            profile=Profile.OCSP_RESPONDER,
            subject="responder",
        ),
        CertSpec("trusted-no-eku", profile=Profile.OCSP_RESPONDER, eku=()),
        *(s for s in LOOKALIKE_SPECS if s.name in SIGNERS),
    )
    lab_pki = build_pki(PKISpec.with_defaults(extra), t0=calendar_t0(NOW))
    directory = tmp_path_factory.mktemp("differential")
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), directory, now=NOW)
    same_key = same_key_other_name(lab_pki)
    pem = same_key.certificate.public_bytes(serialization.Encoding.PEM)
    (directory / f"{SAME_KEY}.pem").write_bytes(pem)
    return Exported(lab_pki, directory, same_key)


def _response(exported: Exported, signer: str, fault: str, **single: Any) -> bytes:
    lab_pki = exported.pki
    kw = dict(FAULTS[fault])
    if kw.get("signer_key") == "another":
        other = "root-responder" if signer != "root-responder" else "responder"
        kw["signer_key"] = lab_pki[other].private_key
    answer = Single(
        lab_pki["server"].certificate,
        lab_pki["intermediate"].certificate,
        this_update=single.get("this_update", NOW - HOUR),
        next_update=single.get("next_update", NOW + 5 * HOUR),
    )
    return forge(signer=exported.signer(signer), singles=[answer], produced_at=NOW, **kw)


def _openssl_verifies(exported: Exported, der: bytes, name: str, va: str | None) -> str:
    path = exported.directory / f"{name}.der"
    path.write_bytes(der)
    args = [
        "openssl",
        "ocsp",
        "-respin",
        path.name,
        "-issuer",
        "intermediate.pem",
        "-cert",
        "server.pem",
        "-CAfile",
        "root.pem",
        "-verify_other",
        "intermediate.pem",
    ]
    if va:
        args += ["-VAfile", f"{va}.pem"]
    out = subprocess.run(args, cwd=exported.directory, capture_output=True, text=True, timeout=20)
    return out.stdout + out.stderr


def _context(exported: Exported, signer: str, in_trust: bool) -> CheckContext:
    lab_pki = exported.pki
    trust = [lab_pki["root"].certificate]
    if in_trust and signer != "root":
        trust.append(exported.signer(signer).certificate)
    return CheckContext(
        now=NOW,
        cert=lab_pki["server"].certificate,
        issuer=lab_pki["intermediate"].certificate,
        trust=tuple(trust),
        path=(lab_pki["root"].certificate,),
    )


@pytest.mark.parametrize("in_trust", [False, True], ids=["ca-file", "va-file"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("signer", SIGNERS)
def test_signature_trusted_agrees_with_openssl(
    exported: Exported, signer: str, fault: str, in_trust: bool
) -> None:
    der = _response(exported, signer, fault)
    evidence = validate(der, _context(exported, signer, in_trust))
    ours = evidence.error not in (ErrorCode.BAD_SIGNATURE, ErrorCode.SIGNER_NOT_AUTHORIZED)
    va = signer if in_trust and signer != "root" else None
    output = _openssl_verifies(exported, der, f"{signer}-{fault}-{in_trust}", va)
    theirs = "Response verify OK" in output
    reason = DELIBERATE_DIFFERENCES.get((signer, fault, in_trust))
    if reason is None:
        assert ours == theirs, f"we: {evidence.error} {evidence.message}; openssl: {output}"
    else:
        assert (ours, theirs) == (False, True), f"expected difference gone: {reason}"


@pytest.mark.parametrize(
    ("times", "error"),
    [
        ({"this_update": NOW - 3 * HOUR, "next_update": NOW - HOUR}, ErrorCode.STALE_RESPONSE),
        ({"this_update": NOW + 2 * HOUR, "next_update": NOW + 5 * HOUR}, ErrorCode.FUTURE_RESPONSE),
    ],
    ids=["stale", "future"],
)
def test_time_faults_differ_from_openssl_by_design(
    exported: Exported, times: dict[str, dt.datetime], error: ErrorCode
) -> None:
    """OpenSSL verifies the signature and only warns on invalid times (openssl#32367);
    we trust the signer too, but a stale or future answer is no answer (RFC 6960 3.2)."""
    der = _response(exported, "responder", "none", **times)
    evidence = validate(der, _context(exported, "responder", False))
    output = _openssl_verifies(exported, der, f"time-{error.value}", None)
    assert "Response verify OK" in output
    assert "Status times invalid" in output or "WARNING" in output
    assert evidence.error is error  # the signer passed, the content did not
    assert evidence.trusted_by.value == "dtm"
