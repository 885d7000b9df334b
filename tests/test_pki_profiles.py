"""Each profile's extensions and criticality, read back from the built certificate."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from pki import (
    EPOCH,
    PKI,
    CertificateDatabase,
    CertSpec,
    KeyType,
    PKISpec,
    Profile,
    SignatureHash,
    build_pki,
)
from pki.errors import PKIError
from pki.export import write_pki


def _ext(cert: x509.Certificate, kind: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(kind)


def test_default_pki_has_the_six_certificates(default_pki: PKI) -> None:
    names = {c.name for c in default_pki}
    assert names == {
        "root", "intermediate", "server", "responder", "root-responder", "trusted-responder",
    }  # fmt: skip
    assert default_pki["intermediate"].issuer == "root"
    assert default_pki["server"].issuer == "intermediate"
    assert default_pki["responder"].issuer == "intermediate"
    assert default_pki["root-responder"].issuer == "root"
    assert default_pki["trusted-responder"].issuer is None


@pytest.mark.parametrize("name", ["root", "intermediate"])
def test_ca_profile_is_a_critical_ca_that_signs_certificates(default_pki: PKI, name: str) -> None:
    cert = default_pki[name].certificate
    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.ExtendedKeyUsage)


def test_root_is_self_signed_without_aia(default_pki: PKI) -> None:
    root = default_pki["root"].certificate
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(root, x509.AuthorityInformationAccess)


@pytest.mark.parametrize("name", ["responder", "root-responder", "trusted-responder"])
def test_responder_profile_signs_ocsp_with_nocheck(default_pki: PKI, name: str) -> None:
    cert = default_pki[name].certificate
    assert not _ext(cert, x509.BasicConstraints).value.ca
    ku = _ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    eku = _ext(cert, x509.ExtendedKeyUsage)
    assert not eku.critical and list(eku.value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    nocheck = _ext(cert, x509.OCSPNoCheck)  # RFC 6960 4.2.2.2.1
    assert not nocheck.critical


def test_leaf_profile_has_server_and_client_auth_sans_and_aia(default_pki: PKI) -> None:
    cert = default_pki["server"].certificate
    eku = _ext(cert, x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = _ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    aia = _ext(cert, x509.AuthorityInformationAccess).value
    urls = [
        a.access_location.value
        for a in aia
        if a.access_method == AuthorityInformationAccessOID.OCSP
    ]
    assert urls == ["http://127.0.0.1:8080/"]
    assert _ext(cert, x509.KeyUsage).critical
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.OCSPNoCheck)


def test_issued_certificates_chain_by_key_identifier(default_pki: PKI) -> None:
    for cert in default_pki:
        if cert.issuer is None:
            continue
        issuer = default_pki[cert.issuer].certificate
        cert.certificate.verify_directly_issued_by(issuer)
        aki = _ext(cert.certificate, x509.AuthorityKeyIdentifier).value
        ski = _ext(issuer, x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest


def test_every_cert_key_is_honoured() -> None:
    spec = PKISpec.with_defaults(
        (
            CertSpec(
                "phone",
                issuer="intermediate",
                profile=Profile.LEAF,
                key=KeyType.ED25519,
                valid_from=dt.timedelta(hours=-2),
                valid_to=dt.timedelta(days=30),
                eku=("clientAuth",),
                nocheck=True,
                ocsp_url="http://ocsp.example.test/path",
                san=("phone.example.test", "::1"),
                serial=0x1A2B,
                subject="SEP001122334455",
            ),
        )
    )
    cert = build_pki(spec)["phone"].certificate
    assert isinstance(cert.public_key(), ed25519.Ed25519PublicKey)
    assert cert.not_valid_before_utc == EPOCH - dt.timedelta(hours=2)
    assert cert.not_valid_after_utc == EPOCH + dt.timedelta(days=30)
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    _ext(cert, x509.OCSPNoCheck)
    aia = _ext(cert, x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://ocsp.example.test/path"
    san = _ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["phone.example.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["::1"]
    assert cert.serial_number == 0x1A2B
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "SEP001122334455"


def test_empty_eku_and_no_url_mean_no_extension() -> None:
    spec = PKISpec.with_defaults(
        (CertSpec("server", issuer="intermediate", eku=(), ocsp_url="none", nocheck=False),)
    )
    cert = build_pki(spec)["server"].certificate
    for kind in (x509.ExtendedKeyUsage, x509.AuthorityInformationAccess, x509.OCSPNoCheck):
        with pytest.raises(x509.ExtensionNotFound):
            _ext(cert, kind)


def test_base_url_fills_lab_urls() -> None:
    cert = build_pki(base_url="http://127.0.0.1:41234/")["server"].certificate
    aia = _ext(cert, x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://127.0.0.1:41234/"


@pytest.mark.parametrize(
    ("key_type", "public_type", "size"),
    [
        (KeyType.EC_P256, ec.EllipticCurvePublicKey, 256),
        (KeyType.EC_P384, ec.EllipticCurvePublicKey, 384),
        (KeyType.ED25519, ed25519.Ed25519PublicKey, None),
        (KeyType.RSA_2048, rsa.RSAPublicKey, 2048),
        (KeyType.RSA_1024, rsa.RSAPublicKey, 1024),
    ],
)
def test_key_type_is_applied_to_every_certificate(
    key_type: KeyType, public_type: type, size: int | None
) -> None:
    lab_pki = build_pki(PKISpec(key=key_type))
    for cert in lab_pki:
        key = cert.certificate.public_key()
        assert isinstance(key, public_type)
        if size is not None:
            assert key.key_size == size  # type: ignore[attr-defined]
        if cert.issuer:
            cert.certificate.verify_directly_issued_by(lab_pki[cert.issuer].certificate)


@pytest.mark.parametrize(
    ("certs", "message"),
    [
        ((CertSpec("x", issuer="nobody"),), "issuer 'nobody' does not exist"),
        ((CertSpec("x", issuer="server"),), "is not a CA"),
        (
            (
                CertSpec("a", issuer="b", profile=Profile.CA),
                CertSpec("b", issuer="a", profile=Profile.CA),
            ),
            "loops back",
        ),
        (
            (
                CertSpec(
                    "x",
                    issuer="root",
                    valid_from=dt.timedelta(days=2),
                    valid_to=dt.timedelta(days=1),
                ),
            ),
            "valid.to",
        ),
        ((CertSpec("x", issuer="root", eku=("notAnEku",)),), "eku 'notAnEku'"),
    ],
)
def test_impossible_pki_is_refused_with_the_certificate_named(
    certs: tuple[CertSpec, ...], message: str
) -> None:
    with pytest.raises(PKIError, match=message):
        build_pki(PKISpec.with_defaults(certs))


def _openssl(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    return proc.stdout + proc.stderr


def test_openssl_verifies_the_chain_and_the_responder_purpose(
    default_pki: PKI, tmp_path: Path
) -> None:
    write_pki(default_pki, CertificateDatabase.from_pki(default_pki), tmp_path)
    at = str(int((EPOCH + dt.timedelta(days=1)).timestamp()))
    out = _openssl(
        "verify", "-attime", at, "-CAfile", "root.pem", "-untrusted", "intermediate.pem",
        "server.pem", "responder.pem", "intermediate.pem", cwd=tmp_path,
    )  # fmt: skip
    assert out.count(": OK") == 3, out
    assert "OCSP helper : Yes" in _openssl(
        "x509", "-in", "responder.pem", "-noout", "-purpose", cwd=tmp_path
    )
    purposes = _openssl("x509", "-in", "server.pem", "-noout", "-purpose", cwd=tmp_path)
    # OpenSSL's "OCSP helper" purpose accepts any end-entity certificate (the
    # OCSP code checks the EKU itself), so only the positive answer is telling.
    assert "SSL server : Yes" in purposes and "SSL client : Yes" in purposes


# --------------------------------------------------------------------------
# signature_hash: the hash each issuer signs certificates with
# --------------------------------------------------------------------------


def _verify_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Check the signature with the issuer's public key directly.

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 ("Unsupported
    signature algorithm"), so the check is done on the TBS bytes.
    """
    public = issuer.public_key()
    algorithm = cert.signature_hash_algorithm
    assert isinstance(algorithm, hashes.HashAlgorithm)
    if isinstance(public, rsa.RSAPublicKey):
        public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))


def _hash_names(lab_pki: PKI) -> dict[str, str | None]:
    return {
        c.name: None
        if c.certificate.signature_hash_algorithm is None
        else c.certificate.signature_hash_algorithm.name
        for c in lab_pki
    }


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (KeyType.EC_P256, "sha256"),
        (KeyType.EC_P384, "sha384"),
        (KeyType.RSA_2048, "sha256"),
        (KeyType.ED25519, None),
    ],
)
def test_signature_hash_defaults_by_the_issuer_key(key: KeyType, expected: str | None) -> None:
    assert set(_hash_names(build_pki(PKISpec(key=key))).values()) == {expected}


def test_legacy_pki_rsa_1024_sha1_is_what_openssl_reads(tmp_path: Path) -> None:
    lab_pki = build_pki(PKISpec(key=KeyType.RSA_1024, signature_hash=SignatureHash.SHA1))
    for cert in lab_pki:
        certificate = cert.certificate
        assert isinstance(certificate.signature_hash_algorithm, hashes.SHA1)
        assert certificate.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA1
        assert certificate.public_key().key_size == 1024  # type: ignore[union-attr]
        _verify_signed_by(certificate, lab_pki[cert.issuer or cert.name].certificate)
    for cert in lab_pki:
        pem = cert.certificate.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{cert.name}.pem").write_bytes(pem)
    text = subprocess.run(
        ["openssl", "x509", "-in", "server.pem", "-noout", "-text"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # Both places RFC 5280 4.1.1.2 puts the algorithm: the TBS and the outer one.
    assert text.count("Signature Algorithm: sha1WithRSAEncryption") == 2
    assert "Public-Key: (1024 bit)" in text
    # openssl as the oracle of the signatures: the chain verifies at t0
    # (auth_level 0: 1024-bit RSA and SHA-1 are below OpenSSL's default level).
    verify = subprocess.run(
        [
            "openssl", "verify", "-auth_level", "0", "-attime", str(int(EPOCH.timestamp())),
            "-trusted", "root.pem", "-untrusted", "intermediate.pem", "server.pem",
        ],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert verify.stdout.strip() == "server.pem: OK", verify.stdout + verify.stderr


@pytest.mark.parametrize("key", [KeyType.EC_P256, KeyType.RSA_1024])
def test_sha1_changes_only_the_signature(key: KeyType) -> None:
    # pki.legacy re-signs a TBS that cryptography built: everything but the
    # algorithm and the signature must be what the SHA-256 build has.
    legacy = build_pki(PKISpec(key=key, signature_hash=SignatureHash.SHA1))["server"].certificate
    modern = build_pki(PKISpec(key=key))["server"].certificate
    assert legacy.signature_hash_algorithm is not None
    assert legacy.signature_hash_algorithm.name == "sha1"
    for field in ("subject", "issuer", "serial_number", "not_valid_before_utc"):
        assert getattr(legacy, field) == getattr(modern, field), field
    assert list(legacy.extensions) == list(modern.extensions)
    assert legacy.public_key() == modern.public_key()
    assert legacy.signature != modern.signature


def test_certificate_signature_hash_overrides_the_pki_one() -> None:
    spec = PKISpec.with_defaults(
        (
            CertSpec(
                "responder",
                issuer="intermediate",
                profile=Profile.OCSP_RESPONDER,
                key=KeyType.RSA_2048,
                signature_hash=SignatureHash.SHA1,
            ),
        ),
        key=KeyType.EC_P384,
        signature_hash=SignatureHash.SHA512,
    )
    lab_pki = build_pki(spec)
    names = _hash_names(lab_pki)
    # The intermediate (P-384) signs the responder's RSA key with ECDSA-SHA-1;
    # every other certificate takes [pki].signature_hash over the P-384 default.
    assert names.pop("responder") == "sha1"
    assert set(names.values()) == {"sha512"}
    responder = lab_pki["responder"].certificate
    assert responder.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA1
    _verify_signed_by(responder, lab_pki["intermediate"].certificate)


def test_pki_signature_hash_does_not_reach_an_ed25519_issuer() -> None:
    spec = PKISpec.with_defaults(
        (CertSpec("trusted-responder", profile=Profile.OCSP_RESPONDER, key=KeyType.ED25519),),
        key=KeyType.RSA_1024,
        signature_hash=SignatureHash.SHA1,
    )
    names = _hash_names(build_pki(spec))
    assert names.pop("trusted-responder") is None  # Ed25519: the hash is built in
    assert set(names.values()) == {"sha1"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            PKISpec(key=KeyType.ED25519, signature_hash=SignatureHash.SHA256),
            "pki: signature_hash 'sha256' cannot apply to key 'ed25519'",
        ),
        (
            PKISpec.with_defaults(
                (CertSpec("x", issuer="root", signature_hash=SignatureHash.SHA1),),
                key=KeyType.ED25519,
            ),
            "certificate 'x': signature_hash 'sha1' cannot apply: its issuer 'root' has an ed25519",
        ),
        (
            PKISpec.with_defaults(
                (CertSpec("x", key=KeyType.ED25519, signature_hash=SignatureHash.SHA512),)
            ),
            "its issuer 'x' has an ed25519 key",
        ),
    ],
)
def test_signature_hash_for_an_ed25519_issuer_is_refused(spec: PKISpec, message: str) -> None:
    with pytest.raises(PKIError, match=message):
        build_pki(spec)


def test_a_chain_thousands_deep_listed_leaf_first_builds() -> None:
    # The build order is found without recursion: 1,500 CAs, each issued by the next listed.
    from pki import CertSpec, PKISpec, Profile, build_pki

    depth = 1500
    certs = tuple(
        CertSpec(name=f"ca{i}", issuer=f"ca{i - 1}" if i else None, profile=Profile.CA)
        for i in range(depth, -1, -1)
    )
    pki = build_pki(PKISpec(certs=certs))
    assert len(pki.chain(f"ca{depth}")) == depth + 1


def test_must_staple_adds_the_tls_feature_status_request(tmp_path: Path) -> None:
    spec = PKISpec.with_defaults((CertSpec("server", issuer="intermediate", must_staple=True),))
    pki = build_pki(spec)
    feature = _ext(pki["server"].certificate, x509.TLSFeature)  # RFC 7633 4.2
    assert list(feature.value) == [x509.TLSFeatureType.status_request]
    assert not feature.critical
    with pytest.raises(x509.ExtensionNotFound):
        _ext(build_pki()["server"].certificate, x509.TLSFeature)
    # openssl, an independent reader, names the extension and its one feature.
    pem = tmp_path / "server.pem"
    pem.write_bytes(pki["server"].certificate.public_bytes(serialization.Encoding.PEM))
    text = _openssl("x509", "-in", str(pem), "-noout", "-text", cwd=tmp_path)
    assert re.search(r"TLS Feature:\s*\n\s*status_request\s*\n", text), text
