"""RSASSA-PSS with saltLength 0: a valid signature (RFC 4055 3.1 lets saltLength be 0).

Kept apart from the mutation-testing selection (docs/mutation-testing.md): it
fails until ``_signature_verifies`` stops turning a salt length of 0 into the
default 20 (``parsed.pss_salt_length or 20``). ``openssl ocsp`` is the oracle:
it verifies the same bytes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.evidence import CertStatus, TrustedBy
from lab.validator import validate
from pki import PKI, CertSpec, KeyType, PKISpec, Profile, build_pki
from tests.ocsp_forge import forge
from tests.test_validator_rules import NONCE, context, single


@pytest.fixture(scope="module")
def rsa_lab() -> PKI:
    spec = CertSpec(
        "responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER, key=KeyType.RSA_2048
    )
    return build_pki(PKISpec.with_defaults((spec,)))


def test_validate_verifies_rsa_pss_with_salt_length_zero(rsa_lab: PKI) -> None:
    der = forge(signer=rsa_lab["responder"], singles=[single(rsa_lab)], nonce=NONCE, pss_salt=0)
    evidence = validate(der, context(rsa_lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM), (
        evidence.message
    )


@pytest.mark.interop
def test_openssl_verifies_rsa_pss_with_salt_length_zero(rsa_lab: PKI, tmp_path: Path) -> None:
    for name in ("server", "intermediate", "responder"):
        pem = rsa_lab[name].certificate.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{name}.pem").write_bytes(pem)
    der = forge(signer=rsa_lab["responder"], singles=[single(rsa_lab)], pss_salt=0)
    (tmp_path / "salt0.der").write_bytes(der)
    # -VAfile trusts the responder without a chain (its one-year validity is long past the
    # fixed t0) and still verifies the signature (OCSP_basic_verify checks it first).
    args = ["openssl", "ocsp", "-respin", "salt0.der", "-issuer", "intermediate.pem"]
    args += ["-cert", "server.pem", "-VAfile", "responder.pem", "-no_cert_verify"]
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=20)
    printed = out.stdout + out.stderr
    assert "Response verify OK" in printed, printed
    # The answer is old (status times warned about); the status still prints on its own line.
    assert re.search(r"^good$", printed, re.M), printed
