"""Every signature algorithm the validator verifies (RFC 6960 4.2.1, RFC 4055, RFC 8410),
and a key that does not fit the algorithm: never a crash, never trusted."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.evidence import CertStatus, ErrorCode, TrustedBy
from lab.validator import clear_memos, validate
from pki import PKI, CertSpec, KeyType, PKISpec, Profile, build_pki
from tests.lookalikes import ForgedSigner
from tests.ocsp_forge import NOW, forge
from tests.test_validator_rules import NONCE, build_lab, cert, context, single


@pytest.fixture(scope="module")
def lab() -> PKI:
    return build_lab()


@pytest.fixture(scope="module")
def rsa_lab() -> PKI:
    """The default PKI with an RSA delegated responder (its key is cached after one derivation)."""
    spec = CertSpec(
        "responder", issuer="intermediate", profile=Profile.OCSP_RESPONDER, key=KeyType.RSA_2048
    )
    return build_pki(PKISpec.with_defaults((spec,)))


@pytest.fixture(autouse=True)
def _fresh_facts() -> None:
    clear_memos()  # each check reads its certificates afresh (mutation testing forks)


def _ed448_signer() -> ForgedSigner:
    """A self-signed Ed448 designated responder: pki derives no Ed448 keys, so one at random."""
    key = ed448.Ed448PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed448-responder")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(448)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(key, None)
    )
    return ForgedSigner(certificate, key)  # type: ignore[arg-type]


@pytest.mark.parametrize("salt", [32, 20])
def test_validate_verifies_rsa_pss(rsa_lab: PKI, salt: int) -> None:
    der = forge(signer=rsa_lab["responder"], singles=[single(rsa_lab)], nonce=NONCE, pss_salt=salt)
    evidence = validate(der, context(rsa_lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM), (
        evidence.message
    )
    bad = forge(
        signer=rsa_lab["responder"],
        singles=[single(rsa_lab)],
        nonce=NONCE,
        pss_salt=salt,
        corrupt_signature=True,
    )
    assert validate(bad, context(rsa_lab)).error is ErrorCode.BAD_SIGNATURE


def test_validate_verifies_ed448(lab: PKI) -> None:
    signer = _ed448_signer()
    der = forge(signer=signer, singles=[single(lab)], nonce=NONCE)
    trust = (cert(lab, "root"), signer.certificate)
    evidence = validate(der, context(lab, trust=trust))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.TRP), (
        evidence.message
    )
    bad = forge(signer=signer, singles=[single(lab)], nonce=NONCE, corrupt_signature=True)
    assert validate(bad, context(lab, trust=trust)).error is ErrorCode.BAD_SIGNATURE


def _other_key(kind: str, rsa_lab: PKI) -> object:
    if kind in ("rsa", "rsa-pss"):
        return rsa_lab["responder"].private_key
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ed448.Ed448PrivateKey.generate()


@pytest.mark.parametrize(
    ("signer_kind", "key_kind"),
    [
        ("ec", "rsa"),
        ("ec", "rsa-pss"),
        ("ec", "ed25519"),
        ("ec", "ed448"),
        ("rsa", "ec"),
        ("rsa", "ed25519"),
    ],
)
def test_validate_refuses_an_algorithm_that_does_not_fit_the_key(
    lab: PKI, rsa_lab: PKI, signer_kind: str, key_kind: str
) -> None:
    """An ECDSA signature checked with an RSA key (or any such mix) is a bad signature."""
    pki = rsa_lab if signer_kind == "rsa" else lab
    key = _other_key(key_kind, rsa_lab)
    assert isinstance(pki["responder"].private_key, rsa.RSAPrivateKey) is (signer_kind == "rsa")
    pss_salt = 32 if key_kind == "rsa-pss" else None
    der = forge(
        signer=pki["responder"],
        singles=[single(pki)],
        nonce=NONCE,
        signer_key=key,
        pss_salt=pss_salt,
    )
    evidence = validate(der, context(pki))
    assert evidence.error is ErrorCode.BAD_SIGNATURE, evidence.message
    assert evidence.trusted_by is TrustedBy.NONE


def test_validate_unauthorized_signer_with_a_bad_signature_is_not_authorized(lab: PKI) -> None:
    """Refused by the signer rules before its signature is looked at: signer-not-authorized."""
    der = forge(
        signer=lab["root-responder"],
        singles=[single(lab)],
        nonce=NONCE,
        signer_key=lab["responder"].private_key,
    )
    assert validate(der, context(lab)).error is ErrorCode.SIGNER_NOT_AUTHORIZED


def test_validate_tries_every_authorized_namesake(lab: PKI) -> None:
    """byName can name several authorized certificates: the one whose key verifies signs.

    A delegated responder named like its CA is embedded; the CA's key signed.
    """
    der = forge(
        signer=lab["intermediate"],
        singles=[single(lab)],
        nonce=NONCE,
        responder_id="name",
        certs=[cert(lab, "namesake-responder")],
    )
    evidence = validate(der, context(lab))
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM), (
        evidence.message
    )
    assert not evidence.delegated_responder
    ca = cert(lab, "intermediate").fingerprint(hashes.SHA256()).hex()
    assert evidence.signer_fingerprint == ca
