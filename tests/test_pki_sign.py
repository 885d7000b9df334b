"""``ocsp-lab pki sign`` and ``POST /~admin/sign``: a product's CSR becomes a lab certificate.

The CSR is made by ``openssl req``; ``openssl verify`` and ``openssl x509``
judge the certificate, and ``openssl ocsp`` asks the served responder (built
on the same ``--out``, as ``serve`` builds it) about it: good, then revoked
after an admin revoke.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lab.cli import main
from lab.commands.pki_build import product_pki
from responder.app import create_app, lab_responder
from responder.server import InProcessServer

pytestmark = pytest.mark.interop


def _openssl(*args: str) -> str:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr


def _csr(directory: Path, cn: str) -> Path:
    csr = directory / f"{cn}.csr"
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/O=Product/CN={cn}", "-addext", f"subjectAltName=DNS:{cn},IP:10.0.0.5",
        "-keyout", str(directory / f"{cn}.key"), "-out", str(csr),
    )  # fmt: skip
    assert csr.exists()
    return csr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, InProcessServer]]:
    """``pki sign`` on a fresh --out, then the responder served on that --out."""
    directory = tmp_path_factory.mktemp("pki-sign")
    out = directory / "out"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    csr = _csr(directory, "cucm.example.test")
    assert main(["pki", "sign", str(csr), "--out", str(out), "--base-url", url]) == 0
    lab_pki, database, _ = product_pki(
        None, out=out, secret_file=None, base_url=url, t0=None, now=dt.datetime.now(dt.UTC)
    )
    app = create_app(lab_pki, database=database, state_dir=out)  # what serve does
    store = lab_responder(app).state.store
    assert store is not None and store.kept and store.discarded is None
    with InProcessServer(app, port=port) as server:
        yield out, url, server


def _ocsp(out: Path, cert: Path, url: str) -> str:
    return _openssl(
        "ocsp", "-issuer", str(out / "intermediate.pem"), "-cert", str(cert), "-url", url,
        "-CAfile", str(out / "root.pem"),
    )  # fmt: skip


def _admin(server: InProcessServer, path: str, doc: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST", f"/~admin/{path}", body=json.dumps(doc),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_openssl_verifies_the_certificate_and_it_carries_the_csr_and_the_lab(
    lab: tuple[Path, str, InProcessServer],
) -> None:
    out, url, _ = lab
    cert = out / "cucm.example.test.pem"
    verified = _openssl(
        "verify", "-CAfile", str(out / "root.pem"), "-untrusted", str(out / "intermediate.pem"),
        str(cert),
    )  # fmt: skip
    assert verified.strip() == f"{cert}: OK"
    text = _openssl("x509", "-in", str(cert), "-noout", "-text")
    subject = _openssl("x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.strip() == "subject=CN=cucm.example.test,O=Product"
    assert "DNS:cucm.example.test, IP Address:10.0.0.5" in text
    assert f"OCSP - URI:{url}" in text
    assert "TLS Web Server Authentication, TLS Web Client Authentication" in text
    assert "CA:FALSE" in text


def test_openssl_ocsp_gets_good_then_revoked_after_an_admin_revoke(
    lab: tuple[Path, str, InProcessServer],
) -> None:
    out, url, server = lab
    cert = out / "cucm.example.test.pem"
    answer = _ocsp(out, cert, url)
    assert "Response verify OK" in answer and f"{cert}: good" in answer
    status, body = _admin(
        server, "revoke", {"name": "cucm.example.test", "reason": "keyCompromise"}
    )
    assert status == 200, body
    answer = _ocsp(out, cert, url)
    assert f"{cert}: revoked" in answer and "Reason: keyCompromise" in answer


def test_pki_sign_wrote_the_index_openssl_ocsp_index_reads(
    lab: tuple[Path, str, InProcessServer],
) -> None:
    out, _, _ = lab
    cert = x509.load_pem_x509_certificate((out / "cucm.example.test.pem").read_bytes())
    index = (out / "intermediate.index.txt").read_text().splitlines()
    # index.txt writes serials in an even number of hex digits: compare the numbers
    (line,) = [row for row in index if int(row.split("\t")[3], 16) == cert.serial_number]
    assert line.endswith("/O=Product/CN=cucm.example.test")


def test_the_admin_api_signs_a_csr_and_the_responder_knows_it(
    lab: tuple[Path, str, InProcessServer], tmp_path: Path
) -> None:
    out, url, server = lab
    csr = _csr(tmp_path, "phone.example.test")
    doc = {"csr": csr.read_text(), "profile": "client", "name": "phone"}
    status, body = _admin(server, "sign", doc)
    assert status == 201, body
    cert = x509.load_pem_x509_certificate(body)
    assert (
        cert.issuer
        == x509.load_pem_x509_certificate((out / "intermediate.pem").read_bytes()).subject
    )
    (tmp_path / "phone.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    answer = _ocsp(out, tmp_path / "phone.pem", url)
    assert f"{tmp_path / 'phone.pem'}: good" in answer
    assert "TLS Web Client Authentication" in _openssl(
        "x509", "-in", str(tmp_path / "phone.pem"), "-noout", "-ext", "extendedKeyUsage"
    )
    status, body = _admin(server, "sign", doc)  # the name is taken now
    assert status == 400 and b"taken" in body


def _tampered(csr: Path) -> bytes:
    der = bytearray(x509.load_pem_x509_csr(csr.read_bytes()).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the signature's last octet: still DER, never verifies
    return bytes(der)


def test_a_csr_whose_signature_does_not_verify_is_refused(
    lab: tuple[Path, str, InProcessServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, url, server = lab
    bad = tmp_path / "bad.csr"
    bad.write_bytes(_tampered(_csr(tmp_path, "evil.example.test")))
    code = main(["pki", "sign", str(bad), "--out", str(out), "--base-url", url])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert str(bad) in err and "signature does not verify" in err
    assert not (out / "evil.example.test.pem").exists()
    pem = "-----BEGIN CERTIFICATE REQUEST-----\n"
    pem += base64.encodebytes(bad.read_bytes()).decode() + "-----END CERTIFICATE REQUEST-----\n"
    status, body = _admin(server, "sign", {"csr": pem})
    assert status == 400 and b"does not verify" in body


def test_an_unknown_issuer_is_one_line(
    lab: tuple[Path, str, InProcessServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, url, _ = lab
    csr = _csr(tmp_path, "other.example.test")
    code = main(
        ["pki", "sign", str(csr), "--out", str(out), "--base-url", url, "--issuer", "server"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "expected a CA of the lab" in err
