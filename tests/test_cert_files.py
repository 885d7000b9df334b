"""Certificates from files (SCENARIOS.md ``cert_file``, ``key_file``): field material in the lab.

Every CA and certificate here is made by the ``openssl`` command line
(:mod:`tests.openssl_ca`), as a customer's would be; OpenSSL is also the
oracle for what the lab makes with them (``openssl verify``, ``openssl ocsp``,
whose printed lines are read, not its exit codes).
"""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from lab.cli import main
from lab.runner import run_scenario
from lab.scenario import load_scenario
from pki import (
    EPOCH,
    CertificateDatabase,
    CertSpec,
    PKIError,
    PKISpec,
    build_pki,
    calendar_t0,
    write_pki,
)
from pki.file_certs import signed_by
from responder.app import ADMIN_PREFIX, create_app
from responder.server import InProcessServer
from tests.openssl_ca import OpenSSLCA, openssl
from tests.peers import openssl_ocsp_client

CUSTOMER = "/O=Customer/CN=Customer Root CA"


def _scenario(dir: Path, text: str, name: str = "case.toml") -> Path:
    path = dir / name
    path.write_text(text)
    return path


_LAB_LEAF_UNDER_CUSTOMER = """\
title = "A customer's CA with its key issues lab certificates"
[[pki.cert]]
name = "customer-ca"
cert_file = "customer-ca.pem"
key_file = "customer-ca.key"
[[pki.cert]]
name = "phone"
issuer = "customer-ca"
[[pki.cert]]
name = "phone-revoked"
issuer = "customer-ca"
[database]
phone-revoked = { status = "revoked", reason = "keyCompromise" }
[client]
trust = ["customer-ca"]
[[expect]]
cert = "phone"
status = "good"
[[expect]]
cert = "phone-revoked"
status = "revoked"
reason = "keyCompromise"
"""


@pytest.fixture(scope="module")
def customer_ca(tmp_path_factory: pytest.TempPathFactory) -> OpenSSLCA:
    """A customer CA by ``openssl req -x509`` (valid from now): cert and key files.

    Its SKI is not the SHA-1 of its key, so the lab's AKIs must copy it (RFC 5280 4.2.1.1).
    """
    return OpenSSLCA.req_x509(
        tmp_path_factory.mktemp("customer"), "customer-ca", subject=CUSTOMER, own_ski=True
    )


def test_pki_build_issues_a_lab_leaf_openssl_verify_accepts(
    customer_ca: OpenSSLCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _scenario(customer_ca.dir, _LAB_LEAF_UNDER_CUSTOMER)
    out = tmp_path / "pki"
    assert main(["pki", "build", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "customer-ca  (ca, rsa-2048" in printed and "from customer-ca.pem" in printed, printed
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(customer_ca.cert), str(out / "phone.pem")],
        capture_output=True,
        text=True,
    )
    assert verified.stdout.strip() == f"{out / 'phone.pem'}: OK", verified.stdout + verified.stderr
    # Export copies the customer's certificate as it is, and its given key mode 0600.
    given = x509.load_pem_x509_certificate(customer_ca.cert.read_bytes())
    exported = x509.load_pem_x509_certificate((out / "customer-ca.pem").read_bytes())
    assert exported == given
    assert stat.S_IMODE((out / "customer-ca.key").stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate((out / "phone.pem").read_bytes())
    assert leaf.issuer == given.subject
    # RSA issuer, no hash asked for: SHA-256, the hash an RSA key takes by default.
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA256)
    readme = (out / "README.txt").read_text()
    assert "copied from customer-ca.pem; its key from customer-ca.key" in readme


def test_openssl_ocsp_gets_good_and_revoked_for_lab_leaves_of_the_customer_ca(
    customer_ca: OpenSSLCA, tmp_path: Path
) -> None:
    scenario = load_scenario(_scenario(customer_ca.dir, _LAB_LEAF_UNDER_CUSTOMER))
    # The real clock: openssl checks every certificate against now.
    lab_pki = build_pki(scenario.pki, t0=calendar_t0(dt.datetime.now(dt.UTC)))
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), tmp_path)
    with InProcessServer(create_app(lab_pki, config=scenario.responder)) as server:
        for leaf, status in (("phone", "good"), ("phone-revoked", "revoked")):
            answer = openssl_ocsp_client(
                ["-issuer", "customer-ca.pem", "-cert", f"{leaf}.pem",
                 "-CAfile", "customer-ca.pem", "-url", server.url],
                cwd=tmp_path,
            )  # fmt: skip
            assert answer.statuses == {f"{leaf}.pem": status}, answer.output
            # Signed by the customer CA itself (RFC 6960 4.2.2.2, first case), with its key.
            assert answer.verified, answer.output
    assert answer.reasons == ["keyCompromise"], answer.output


def test_run_judges_lab_leaves_of_a_customer_ca(tmp_path: Path) -> None:
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    result = run_scenario(load_scenario(_scenario(ca.dir, _LAB_LEAF_UNDER_CUSTOMER)))
    assert result.holds, result.to_json()


_KEYLESS_CA = """\
title = "A customer's CA without its key: the lab can only judge"
[[pki.cert]]
name = "customer-ca"
cert_file = "customer-ca.pem"
[[pki.cert]]
name = "phone"
cert_file = "phone.pem"
[database]
phone = "{status}"
[responder]
signers = {{ customer-ca = "trusted-responder" }}
[client]
trust = ["customer-ca", "trusted-responder"]
uri = "configured"
configured_uri = "lab"
[[expect]]
cert = "phone"
status = "{status}"
trusted_by = "trp"
"""


@pytest.mark.parametrize("status", ["good", "revoked"])
def test_validator_judges_a_leaf_of_a_ca_without_its_key(tmp_path: Path, status: str) -> None:
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    ca.issue("phone", subject="/O=Customer/CN=phone.example.com")
    scenario = load_scenario(_scenario(tmp_path, _KEYLESS_CA.format(status=status)))
    specs = {c.name: c for c in scenario.pki.certs}
    assert specs["phone"].issuer == "customer-ca"  # found by the file's issuer name and key
    result = run_scenario(scenario)
    assert result.holds, result.to_json()
    assert result.modes[0].expectations[0].actual.record.allowed is (status == "good")


def test_a_keyless_ca_signing_its_own_answers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    ca.issue("phone", subject="/O=Customer/CN=phone.example.com")
    text = _KEYLESS_CA.format(status="good").replace(
        '[responder]\nsigners = { customer-ca = "trusted-responder" }\n', ""
    )
    path = _scenario(tmp_path, text)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"{path}: responder.signers: expected a signer with a key" in err[0]
    assert "'customer-ca'" in err[0] and "has no key_file" in err[0]


_PRODUCT_CERT = """\
title = "A product's own certificate (no key) with a [database] status"
[[pki.cert]]
name = "customer-ca"
cert_file = "customer-ca.pem"
key_file = "customer-ca.key"
[[pki.cert]]
name = "product"
cert_file = "phone.pem"
[database]
product = { status = "revoked", reason = "superseded" }
[client]
trust = ["customer-ca"]
uri = "configured"
configured_uri = "lab"
[[expect]]
cert = "product"
status = "revoked"
reason = "superseded"
"""


def test_product_certificate_from_a_file_gets_its_database_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    ca.issue("phone", subject="/O=Customer/CN=phone.example.com")
    scenario = load_scenario(_scenario(tmp_path, _PRODUCT_CERT))
    result = run_scenario(scenario)
    assert result.holds, result.to_json()
    lab_pki = build_pki(scenario.pki)
    record = CertificateDatabase.from_pki(lab_pki).by_name("product")
    given = x509.load_pem_x509_certificate((tmp_path / "phone.pem").read_bytes())
    assert record is not None and record.ca == "customer-ca"
    assert record.serial == given.serial_number and record.reason == "superseded"
    out = tmp_path / "pki"
    assert main(["pki", "build", str(tmp_path / "case.toml"), "--out", str(out)]) == 0
    assert (out / "product.pem").exists()
    # The product keeps its key: the lab never writes one it was not given.
    assert not (out / "product.key").exists() and not (out / "product.p12").exists()
    assert "product  (leaf, ec-p256" in capsys.readouterr().out


_LEGACY = """\
title = "A legacy SHA-1 CA from a file issues a lab leaf signed with SHA-1"
[[pki.cert]]
name = "legacy-ca"
cert_file = "legacy-ca.pem"
key_file = "legacy-ca.key"
[[pki.cert]]
name = "phone"
issuer = "legacy-ca"
signature_hash = "sha1"
[client]
trust = ["legacy-ca"]
[[expect]]
cert = "phone"
status = "good"
"""


def test_legacy_sha1_ca_from_a_file_issues_a_sha1_lab_leaf(tmp_path: Path) -> None:
    ca = OpenSSLCA.backdated(
        tmp_path, "legacy-ca", subject="/O=Legacy/CN=Legacy CA", newkey="rsa:1024", md="sha1"
    )
    scenario = load_scenario(_scenario(tmp_path, _LEGACY))
    lab_pki = build_pki(scenario.pki)
    leaf = lab_pki["phone"].certificate
    assert isinstance(leaf.signature_hash_algorithm, hashes.SHA1)
    assert signed_by(leaf, lab_pki["legacy-ca"].certificate)
    (tmp_path / "phone.pem").write_bytes(leaf.public_bytes(Encoding.PEM))
    # OpenSSL reads the lab's SHA-1 signature as sha1WithRSAEncryption and checks it.
    text = openssl("x509", "-in", "phone.pem", "-noout", "-text", cwd=tmp_path)
    assert "Signature Algorithm: sha1WithRSAEncryption" in text
    verified = subprocess.run(
        # -auth_level 0: OpenSSL 3 may refuse SHA-1 at its default level, as a product may not.
        ["openssl", "verify", "-auth_level", "0", "-attime", str(int(EPOCH.timestamp())),
         "-CAfile", str(ca.cert), "phone.pem"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert verified.stdout.strip() == "phone.pem: OK", verified.stdout + verified.stderr
    result = run_scenario(scenario)
    assert result.holds, result.to_json()


# ---- one-line errors -------------------------------------------------------------------


def _errors_of(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["run", str(path)]) == 2
    return capsys.readouterr().err.strip().splitlines()


@pytest.fixture()
def material(tmp_path: Path) -> Path:
    """customer-ca (with key), other-ca (another key), not-a-ca (cA false), an encrypted key."""
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    ca.issue("phone", subject="/O=Customer/CN=phone.example.com")
    OpenSSLCA.backdated(tmp_path, "other-ca", subject="/O=Other/CN=Other CA")
    OpenSSLCA.backdated(
        tmp_path, "not-a-ca", subject="/O=Customer/CN=No CA", extensions="not_a_ca_ext"
    )
    openssl(
        "pkey", "-in", "customer-ca.key", "-aes256", "-passout", "pass:secret",
        "-out", "encrypted.key", cwd=tmp_path,
    )  # fmt: skip
    return tmp_path


_BROKEN = [
    # (what is wrong, the [[pki.cert]] lines, the key named, words of the message)
    ("missing file", 'cert_file = "nowhere.pem"', "pki.cert[0].cert_file",
     "cannot read (No such file or directory)"),
    ("not a certificate", 'cert_file = "customer-ca.key"', "pki.cert[0].cert_file",
     "holds no X.509 certificate"),
    ("key of another certificate", 'cert_file = "customer-ca.pem"\nkey_file = "other-ca.key"',
     "pki.cert[0].key_file", "holds the key of another certificate"),
    ("a certificate as key", 'cert_file = "customer-ca.pem"\nkey_file = "other-ca.pem"',
     "pki.cert[0].key_file", "holds no private key"),
    ("password-protected key", 'cert_file = "customer-ca.pem"\nkey_file = "encrypted.key"',
     "pki.cert[0].key_file", "is password-protected"),
    ("a key without a file", 'key_file = "customer-ca.key"', "pki.cert[0].key_file",
     "no key_file without cert_file"),
    ("a key the file says", 'cert_file = "customer-ca.pem"\nprofile = "ca"',
     "pki.cert[0].profile", "no profile with cert_file: the certificate file says it"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "key", "words"), [b[1:] for b in _BROKEN], ids=[b[0] for b in _BROKEN]
)
def test_bad_cert_file_is_one_line_naming_file_and_key(
    material: Path, capsys: pytest.CaptureFixture[str], lines: str, key: str, words: str
) -> None:
    path = _scenario(material, f'title = "t"\n[[pki.cert]]\nname = "customer-ca"\n{lines}\n')
    errors = _errors_of(path, capsys)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ocsp-lab: error: {path}: {key}: expected "), errors
    assert words in errors[0], errors


_ISSUER = """\
title = "t"
[[pki.cert]]
name = "customer-ca"
cert_file = "{file}"
{key}
[[pki.cert]]
name = "phone"
issuer = "customer-ca"
"""


@pytest.mark.parametrize(
    ("file", "key", "words"),
    [
        ("customer-ca.pem", "", "has no key_file, so the lab cannot issue certificates for it"),
        ("not-a-ca.pem", 'key_file = "not-a-ca.key"', "has no basicConstraints cA"),
    ],
    ids=["keyless CA", "no basicConstraints cA"],
)
def test_file_certificate_that_cannot_issue_is_refused_as_issuer(
    material: Path, capsys: pytest.CaptureFixture[str], file: str, key: str, words: str
) -> None:
    path = _scenario(material, _ISSUER.format(file=file, key=key))
    errors = _errors_of(path, capsys)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ocsp-lab: error: {path}: pki.cert[1].issuer: expected "), errors
    assert words in errors[0], errors


def test_keyless_file_certificate_is_refused_as_signer(
    material: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        'title = "t"\n[[pki.cert]]\nname = "phone"\ncert_file = "phone.pem"\n'
        '[responder]\nsigner = "phone"\n'
    )
    errors = _errors_of(_scenario(material, text), capsys)
    assert len(errors) == 1 and "responder.signer: expected a signer with its key" in errors[0]


def test_database_status_of_a_file_whose_issuer_is_missing_is_refused(
    material: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = 'title = "t"\n[[pki.cert]]\nname = "phone"\ncert_file = "phone.pem"\n'
    text += '[database]\nphone = "revoked"\n'
    errors = _errors_of(_scenario(material, text), capsys)
    assert len(errors) == 1, errors
    assert "database.phone: expected a certificate whose issuer is in the scenario" in errors[0]
    assert "CN=Customer Root CA" in errors[0]


def test_status_page_and_explain_say_which_certificates_came_from_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = OpenSSLCA.backdated(tmp_path, "customer-ca", subject=CUSTOMER)
    ca.issue("phone", subject="/O=Customer/CN=phone.example.com")
    path = _scenario(tmp_path, _KEYLESS_CA.format(status="revoked"))
    scenario = load_scenario(path)
    lab_pki = build_pki(scenario.pki)
    app = create_app(lab_pki, config=scenario.responder)
    rows = app.test_client().get(f"{ADMIN_PREFIX}/state").get_json()["certificates"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["customer-ca"]["from_file"] == "from customer-ca.pem, without its key"
    assert by_name["phone"]["from_file"] == "from phone.pem, without its key"
    assert by_name["phone"]["issuer"] == "customer-ca" and by_name["phone"]["status"] == "revoked"
    assert by_name["server"]["from_file"] is None
    assert "customer-ca" in by_name["trusted-responder"]["signs_for"]
    assert main(["explain", str(path)]) == 0
    story = capsys.readouterr().out
    tree = "└─ phone  (leaf, ec-p256, serial 1001, from phone.pem, without its key, revoked)"
    assert tree in story, story


def test_file_issued_by_a_lab_ca_is_found_and_checked_against_its_key(tmp_path: Path) -> None:
    # A product's certificate the lab's intermediate issued earlier (as `pki sign` does), handed
    # back as a file: its issuer is found by name, and the build checks the lab CA's key signed it.
    made = build_pki(PKISpec.with_defaults((CertSpec("phone", issuer="intermediate"),)))
    (tmp_path / "product.pem").write_bytes(made["phone"].certificate.public_bytes(Encoding.PEM))
    text = 'title = "t"\n[[pki.cert]]\nname = "product"\ncert_file = "product.pem"\n'
    text += '[database]\nproduct = "revoked"\n'
    scenario = load_scenario(_scenario(tmp_path, text))
    assert scenario.pki.cert("product").issuer == "intermediate"
    record = CertificateDatabase.from_pki(build_pki(scenario.pki)).by_name("product")
    assert record is not None and record.ca == "intermediate" and record.is_revoked
    # Another lab secret makes another intermediate key: that CA did not sign the file.
    other = replace(scenario.pki, seed=b"another lab secret")
    with pytest.raises(PKIError, match=r"names 'intermediate' as its issuer .* did not sign it"):
        build_pki(other)
