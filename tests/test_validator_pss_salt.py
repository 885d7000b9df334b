"""RSASSA-PSS with saltLength 0: a valid signature (RFC 4055 3.1 lets saltLength be 0).

Kept apart from the mutation-testing selection (docs/mutation-testing.md): it
fails until ``_signature_verifies`` stops turning a salt length of 0 into the
default 20 (``parsed.pss_salt_length or 20``).
"""

from __future__ import annotations

import pytest

from lab.evidence import CertStatus, TrustedBy
from lab.validate import validate
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
