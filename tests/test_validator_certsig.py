"""Certificate signatures of every algorithm: DTM and ``check --chain`` accept SHA-1, and say so.

cryptography's ``verify_directly_issued_by`` refuses SHA-1, so a delegated
responder certified with ``sha1WithRSAEncryption`` (long-lived enterprise
CAs) was refused as ``signer-not-authorized`` and a wrong signature hid
behind that. The CAs here are built with cryptography directly, one per
algorithm; the responder always signs its answers with its own P-256 key.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab import chain_check
from lab.chain_check import CheckOptions, check_chain
from lab.evidence import CertStatus, ErrorCode, TrustedBy
from lab.fetch import FetchResult
from lab.ocsp_request import OCSPRequest, RequestedCertID
from lab.policy import Policy
from lab.settings import CheckScope, HttpMethod, UriSource
from lab.validator import CheckContext, validate
from lab.validator.certsig import issued_by
from pki import PKI
from tests.ocsp_forge import NOW, Single, forge

_START = NOW - dt.timedelta(days=30)
_END = NOW + dt.timedelta(days=365)
_PSS_SHA256 = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
_PSS_SHA1 = padding.PSS(padding.MGF1(hashes.SHA1()), 20)


@dataclass(frozen=True)
class Algorithm:
    """How a CA signs: its key, the hash (None for EdDSA), the RSA padding."""

    key: Any
    hash: hashes.HashAlgorithm | None
    rsa_padding: padding.PSS | padding.PKCS1v15 | None = None

    def sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        if isinstance(self.hash, hashes.SHA1 | hashes.MD5):
            # cryptography no longer signs certificates with these: sign the same
            # TBSCertificate again, under the legacy AlgorithmIdentifier (asn1crypto).
            return _signed_again(builder.sign(self.key, hashes.SHA256()), self)
        if self.rsa_padding is None:
            return builder.sign(self.key, self.hash)
        return builder.sign(self.key, self.hash, rsa_padding=self.rsa_padding)

    def identifier(self) -> asn1_algos.SignedDigestAlgorithm:
        """The AlgorithmIdentifier (RFC 5280 4.1.1.2): RFC 3279, RFC 4055 for PSS."""
        assert self.hash is not None
        if isinstance(self.rsa_padding, padding.PSS):
            # SHA-1, MGF1-SHA-1 and a 20-octet salt: RFC 4055's defaults, which DER omits.
            params = {
                "hash_algorithm": {"algorithm": "sha1"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}},
                "salt_length": 20,
            }
            return asn1_algos.SignedDigestAlgorithm(
                {"algorithm": "rsassa_pss", "parameters": params}
            )
        kind = "rsa" if isinstance(self.key, rsa.RSAPrivateKey) else "ecdsa"
        return asn1_algos.SignedDigestAlgorithm({"algorithm": f"{self.hash.name}_{kind}"})

    def raw_sign(self, data: bytes) -> bytes:
        assert self.hash is not None
        if isinstance(self.key, rsa.RSAPrivateKey):
            assert self.rsa_padding is not None
            signature: bytes = self.key.sign(data, self.rsa_padding, self.hash)
        else:
            signature = self.key.sign(data, ec.ECDSA(self.hash))
        return signature


def _signed_again(cert: x509.Certificate, algorithm: Algorithm) -> x509.Certificate:
    certificate = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = asn1_x509.TbsCertificate.load(certificate["tbs_certificate"].dump())
    tbs["signature"] = algorithm.identifier()
    tbs_der = tbs.dump(force=True)
    signed = asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
            "signature_algorithm": algorithm.identifier(),
            "signature_value": algorithm.raw_sign(tbs_der),
        }
    )
    return x509.load_der_x509_certificate(signed.dump())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def algorithms(rsa_key: rsa.RSAPrivateKey) -> dict[str, Algorithm]:
    return {
        "rsa-pkcs1-sha1": Algorithm(rsa_key, hashes.SHA1(), padding.PKCS1v15()),
        "rsa-pss-sha256": Algorithm(rsa_key, hashes.SHA256(), _PSS_SHA256),
        "rsa-pss-sha1": Algorithm(rsa_key, hashes.SHA1(), _PSS_SHA1),
        "ecdsa-sha1": Algorithm(ec.generate_private_key(ec.SECP384R1()), hashes.SHA1()),
        "ed448": Algorithm(ed448.Ed448PrivateKey.generate(), None),
    }


_SHA1 = {"rsa-pkcs1-sha1", "rsa-pss-sha1", "ecdsa-sha1"}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _builder(subject: str, issuer: str, key: Any, serial: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(_START)
        .not_valid_after(_END)
    )


def _ca(subject: str, issuer: str, key: Any, signer: Algorithm, serial: int) -> x509.Certificate:
    builder = _builder(subject, issuer, key, serial).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True
    )
    return signer.sign(builder)


@dataclass(frozen=True)
class Hierarchy:
    ca: x509.Certificate
    leaf: x509.Certificate
    responder: Any  # an IssuedCert of the default PKI with this CA's responder certificate


def _hierarchy(default_pki: PKI, name: str, algorithm: Algorithm) -> Hierarchy:
    """A self-signed CA signing with ``algorithm``, its leaf and its delegated responder."""
    ca = _ca(name, name, algorithm.key.public_key(), algorithm, 1)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = algorithm.sign(_builder("leaf", name, leaf_key.public_key(), 2))
    responder = default_pki["responder"]  # its P-256 key signs the answers
    responder_cert = algorithm.sign(
        _builder(f"{name} responder", name, responder.certificate.public_key(), 3)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )
    return Hierarchy(ca, leaf, replace(responder, certificate=responder_cert))


def _context(h: Hierarchy) -> CheckContext:
    return CheckContext(
        now=NOW, cert=h.leaf, issuer=h.ca, requested=RequestedCertID.for_cert(h.leaf, h.ca)
    )


_CASES = ["rsa-pkcs1-sha1", "rsa-pss-sha256", "rsa-pss-sha1", "ecdsa-sha1", "ed448"]


@pytest.mark.parametrize("case", _CASES)
def test_dtm_accepts_a_responder_certified_with(
    default_pki: PKI, algorithms: dict[str, Algorithm], case: str
) -> None:
    h = _hierarchy(default_pki, case, algorithms[case])
    der = forge(signer=h.responder, singles=[Single(h.leaf, h.ca)])
    evidence = validate(der, _context(h))
    assert (evidence.status, evidence.error) == (CertStatus.GOOD, None), evidence.message
    assert evidence.trusted_by is TrustedBy.DTM
    assert evidence.delegated_responder
    sha1_warnings = [w for w in evidence.warnings if "SHA-1" in w]
    if case in _SHA1:
        assert sha1_warnings == [
            f"delegated responder CN={case} responder's certificate is signed with SHA-1 "
            "(deprecated, RFC 9155 / CA/B Forum)"
        ]
        assert any(s.name == "signer" and s.outcome.value == "warn" for s in evidence.steps)
    else:
        assert sha1_warnings == []


@pytest.mark.parametrize("case", _CASES)
def test_a_wrong_signature_under_such_a_responder_is_bad_signature(
    default_pki: PKI, algorithms: dict[str, Algorithm], case: str
) -> None:
    h = _hierarchy(default_pki, case, algorithms[case])
    der = forge(signer=h.responder, singles=[Single(h.leaf, h.ca)], corrupt_signature=True)
    evidence = validate(der, _context(h))
    assert evidence.error is ErrorCode.BAD_SIGNATURE, evidence.message


def test_md5_stays_refused(default_pki: PKI, rsa_key: rsa.RSAPrivateKey) -> None:
    """A responder certificate signed with MD5 is not issued by anyone (RFC 6151)."""
    md5 = Algorithm(rsa_key, hashes.MD5(), padding.PKCS1v15())
    sha256 = Algorithm(rsa_key, hashes.SHA256(), padding.PKCS1v15())
    h = _hierarchy(default_pki, "md5", md5)
    ca = _ca("md5", "md5", rsa_key.public_key(), sha256, 1)  # the CA itself is fine
    verdict = issued_by(h.responder.certificate, ca)
    assert (verdict.verified, verdict.hash) == (False, "md5")
    der = forge(signer=h.responder, singles=[Single(h.leaf, ca)])
    context = CheckContext(
        now=NOW, cert=h.leaf, issuer=ca, requested=RequestedCertID.for_cert(h.leaf, ca)
    )
    evidence = validate(der, context)
    assert evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED
    assert (
        "neither the issuing CA nor issued directly by the issuing CA (CN=md5: md5 is refused"
        in evidence.message
    )


def test_a_signature_by_another_key_does_not_verify(algorithms: dict[str, Algorithm]) -> None:
    ecdsa, ed = algorithms["ecdsa-sha1"], algorithms["ed448"]
    ca = _ca("same", "same", ecdsa.key.public_key(), ecdsa, 1)
    impostor = _ca("same", "same", ed.key.public_key(), ed, 1)
    assert issued_by(ca, ca).verified
    assert not issued_by(ca, impostor).verified
    assert not issued_by(impostor, ca).verified
    other_name = _ca("other", "other", ecdsa.key.public_key(), ecdsa, 1)
    assert not issued_by(ca, other_name).verified  # same key, not the issuer's name


# ---- check --chain ---------------------------------------------------------------------


def _sha1_chain(
    rsa_key: rsa.RSAPrivateKey,
) -> tuple[x509.Certificate, x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """root (self-signed, RSA SHA-1) → intermediate (RSA SHA-1) → leaf (ECDSA SHA-1)."""
    sha1 = Algorithm(rsa_key, hashes.SHA1(), padding.PKCS1v15())
    root = _ca("sha1 root", "sha1 root", rsa_key.public_key(), sha1, 10)
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _ca("sha1 intermediate", "sha1 root", intermediate_key.public_key(), sha1, 11)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = Algorithm(intermediate_key, hashes.SHA1()).sign(
        _builder("leaf", "sha1 intermediate", leaf_key.public_key(), 12)
    )
    return root, intermediate, leaf, intermediate_key


def test_check_chain_sees_a_sha1_self_signed_root(rsa_key: rsa.RSAPrivateKey) -> None:
    root, intermediate, _, _ = _sha1_chain(rsa_key)
    assert chain_check._self_signed(root)
    assert not chain_check._self_signed(intermediate)


def test_check_chain_finds_a_sha1_issuer(default_pki: PKI, rsa_key: rsa.RSAPrivateKey) -> None:
    """The leaf's issuer signed it with ECDSA-SHA1; it is found among the presented."""
    root, intermediate, leaf, intermediate_key = _sha1_chain(rsa_key)
    signer = replace(default_pki["responder"], certificate=intermediate, key=intermediate_key)
    asked: list[int] = []

    def fetcher(url: str, der: bytes, method: HttpMethod, timeout: float) -> FetchResult:
        asked.append(OCSPRequest.parse(der).cert_id.serial)
        body = forge(signer=signer, singles=[Single(leaf, intermediate)], certs=[])
        return FetchResult(url, method, 200, "application/ocsp-response", body)

    options = CheckOptions(
        policy=Policy(common_criteria=True),
        uri=UriSource.CONFIGURED,
        configured_uri="http://127.0.0.1:1/",
        check=CheckScope.LEAF,
        nonce=False,
    )
    result = check_chain(
        [leaf, intermediate], options=options, now=NOW, trust=[root], fetcher=fetcher
    )
    assert asked[0] == leaf.serial_number
    assert result.leaf.evidence.status is CertStatus.GOOD, result.leaf.evidence.message
    assert result.leaf.evidence.trusted_by is TrustedBy.DTM  # the issuing CA itself signed


# ---- openssl is the oracle -------------------------------------------------------------


def _openssl_verify(directory: Path, ca: x509.Certificate, cert: x509.Certificate) -> str:
    """What ``openssl verify`` prints of ``cert`` under ``ca`` (``-auth_level 0`` allows SHA-1)."""
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    at = str(int(NOW.timestamp()))  # the certificates' validity is around the tests' NOW
    done = subprocess.run(
        ["openssl", "verify", "-auth_level", "0", "-attime", at, "-CAfile", "ca.pem", "cert.pem"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return done.stdout + done.stderr


def _corrupted(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` with one bit of its signature flipped (the DER is otherwise the same)."""
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the signature BIT STRING ends the Certificate (RFC 5280 4.1)
    return x509.load_der_x509_certificate(bytes(der))


@pytest.mark.interop
@pytest.mark.parametrize("case", _CASES)
def test_issued_by_agrees_with_openssl_verify(
    default_pki: PKI, algorithms: dict[str, Algorithm], case: str, tmp_path: Path
) -> None:
    h = _hierarchy(default_pki, case, algorithms[case])
    for cert in (h.responder.certificate, h.leaf):
        printed = _openssl_verify(tmp_path, h.ca, cert)
        assert re.search(r"^cert\.pem: OK$", printed, re.M), printed
        assert issued_by(cert, h.ca).verified
        broken = _corrupted(cert)
        printed = _openssl_verify(tmp_path, h.ca, broken)
        assert "certificate signature failure" in printed, printed
        assert not issued_by(broken, h.ca).verified


# ---- what issued_by says, exactly (each field is evidence: the DTM refusal quotes it) ----


def test_issued_by_answers_every_way_exactly(
    algorithms: dict[str, Algorithm], rsa_key: rsa.RSAPrivateKey
) -> None:
    from lab.validator.certsig import CertSignature

    ecdsa, ed, pss = algorithms["ecdsa-sha1"], algorithms["ed448"], algorithms["rsa-pss-sha256"]
    pkcs1 = Algorithm(rsa_key, hashes.SHA384(), padding.PKCS1v15())
    ca = _ca("ca", "ca", ecdsa.key.public_key(), ecdsa, 1)
    assert issued_by(ca, ca) == CertSignature(True, "ecdsa", "sha1")
    assert issued_by(ca, ca).sha1
    rsa_ca = _ca("rsa", "rsa", rsa_key.public_key(), pkcs1, 2)
    assert issued_by(rsa_ca, rsa_ca) == CertSignature(True, "rsassa_pkcs1v15", "sha384")
    assert not issued_by(rsa_ca, rsa_ca).sha1
    pss_ca = _ca("pss", "pss", rsa_key.public_key(), pss, 3)
    assert issued_by(pss_ca, pss_ca) == CertSignature(True, "rsassa_pss", "sha256")
    ed_ca = _ca("ed", "ed", ed.key.public_key(), ed, 4)
    assert issued_by(ed_ca, ed_ca) == CertSignature(True, "ed448", None)
    other = _ca("other", "other", ecdsa.key.public_key(), ecdsa, 5)
    assert issued_by(ca, other) == CertSignature(
        False, why="another issuer name", issuer_name_matches=False
    )
    # The right name, another key: each algorithm says it does not verify.
    for cert, impostor_key in (
        (ca, ec.generate_private_key(ec.SECP384R1())),
        (rsa_ca, rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        (pss_ca, rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        (ed_ca, ed448.Ed448PrivateKey.generate()),
    ):
        name = cert.subject.rfc4514_string().removeprefix("CN=")
        is_rsa = isinstance(impostor_key, rsa.RSAPrivateKey)
        is_ed = isinstance(impostor_key, ed448.Ed448PrivateKey)
        signer = Algorithm(
            impostor_key, None if is_ed else hashes.SHA256(), padding.PKCS1v15() if is_rsa else None
        )
        impostor = _ca(name, name, impostor_key.public_key(), signer, 9)
        told = issued_by(cert, impostor)
        assert told == CertSignature(
            False, told.algorithm, told.hash, "the signature does not verify"
        ), told
        assert told.algorithm == issued_by(cert, cert).algorithm
        assert told.hash == issued_by(cert, cert).hash
    # A signature that cannot come from the issuer's kind of key.
    ed_named_ca = _ca("ca", "ca", ed.key.public_key(), ed, 6)
    told = issued_by(ca, ed_named_ca)
    assert (told.verified, told.algorithm, told.hash) == (False, "ecdsa", "sha1")
    assert told.why.startswith("a ecdsa signature cannot come from a ") and told.issuer_name_matches
    ec_named_ed = _ca("ed", "ed", ecdsa.key.public_key(), ecdsa, 7)
    told = issued_by(ed_ca, ec_named_ed)
    assert (told.verified, told.algorithm, told.hash) == (False, "ed448", None)
    assert told.why.startswith("a ed448 signature cannot come from a ")


def test_issued_by_refuses_md5_saying_so(rsa_key: rsa.RSAPrivateKey) -> None:
    from lab.validator.certsig import CertSignature

    md5 = Algorithm(rsa_key, hashes.MD5(), padding.PKCS1v15())
    cert = _ca("md5", "md5", rsa_key.public_key(), md5, 1)
    assert issued_by(cert, cert) == CertSignature(
        False, "rsassa_pkcs1v15", "md5", "md5 is refused (RFC 6151)"
    )
