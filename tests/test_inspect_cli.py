"""``ocsp-lab inspect``: decode a captured response and run what can run; every exit code."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.capture import CaptureKind, sniff
from lab.cli import main
from lab.ocsp_request import build_request
from pki import PKI
from tests.ocsp_forge import NOW, Single, forge

AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
NONCE = b"\x07" * 32
REFUSED_REVOKED = "verdict refused (row 'revoked', Common Criteria ON"


@pytest.fixture(scope="module")
def files(default_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("inspect")
    server, intermediate = (
        default_pki["server"].certificate,
        default_pki["intermediate"].certificate,
    )
    for name in ("server", "intermediate", "root", "trusted-responder"):
        pem = default_pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (directory / f"{name}.pem").write_bytes(pem)
    revoked = Single(server, intermediate, status="revoked", reason="keyCompromise")
    good = forge(signer=default_pki["responder"], singles=[revoked], nonce=NONCE)
    (directory / "resp.der").write_bytes(good)
    (directory / "resp.b64").write_text(base64.b64encode(good).decode())
    (directory / "resp.pem").write_text(
        "-----BEGIN OCSP RESPONSE-----\n"
        + base64.encodebytes(good).decode()
        + "-----END OCSP RESPONSE-----\n"
    )
    corrupt = forge(signer=default_pki["responder"], singles=[revoked], corrupt_signature=True)
    (directory / "corrupt.der").write_bytes(corrupt)
    trusted = forge(signer=default_pki["trusted-responder"], singles=[Single(server, intermediate)])
    (directory / "trp.der").write_bytes(trusted)
    (directory / "req.der").write_bytes(build_request(server, intermediate, nonce=NONCE).der)
    (directory / "other-req.der").write_bytes(
        build_request(server, intermediate, nonce=b"\x08" * 32).der
    )
    (directory / "garbage.bin").write_bytes(b"\x00\x01 not ocsp at all")
    _write_other_kinds(default_pki, directory, good)
    return directory


def _http(head: str, body: bytes) -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


def _write_other_kinds(pki: PKI, directory: Path, response: bytes) -> None:
    """Files that are not what inspect expects, and HTTP messages around a response."""
    server, intermediate = pki["server"], pki["intermediate"]
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    request = build_request(server.certificate, intermediate.certificate, nonce=NONCE).der
    (directory / "req.pem").write_text(
        "-----BEGIN OCSP REQUEST-----\n"
        + base64.encodebytes(request).decode()
        + "-----END OCSP REQUEST-----\n"
    )
    (directory / "req.b64").write_text(base64.b64encode(request).decode())
    (directory / "server.der").write_bytes(server.certificate.public_bytes(der))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(server.certificate.subject)
        .sign(server.private_key, hashes.SHA256())
    )
    (directory / "server.csr").write_bytes(csr.public_bytes(pem))
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    key = server.private_key
    (directory / "server.key").write_bytes(key.private_bytes(pem, pkcs8, none))
    (directory / "server-key.der").write_bytes(key.private_bytes(der, pkcs8, none))
    locked = serialization.BestAvailableEncryption(b"secret")
    (directory / "locked.key").write_bytes(key.private_bytes(pem, pkcs8, locked))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    (directory / "server.pub").write_bytes(key.public_key().public_bytes(pem, spki))
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(intermediate.certificate.subject)
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .sign(intermediate.private_key, hashes.SHA256())
    )
    (directory / "intermediate.crl").write_bytes(crl.public_bytes(der))
    (directory / "error.html").write_text(
        "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head></html>\n"
    )
    (directory / "empty.der").write_bytes(b"")
    (directory / "http-ok.txt").write_bytes(
        _http("HTTP/1.1 200 OK\nContent-Type: application/ocsp-response", response)
    )
    (directory / "http-wrong-type.txt").write_bytes(
        _http("HTTP/1.1 200 OK\nContent-Type: text/plain", response)
    )
    (directory / "http-503.txt").write_bytes(
        _http(
            "HTTP/1.1 503 Service Unavailable\nContent-Type: text/html; charset=utf-8",
            b"<html><body>down for maintenance</body></html>",
        )
    )
    (directory / "http-html.txt").write_bytes(
        _http("HTTP/1.0 200 OK\nContent-Type: text/html", b"<html><body>login</body></html>")
    )
    (directory / "http-post.txt").write_bytes(
        _http(
            "POST /ocsp HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/ocsp-request",
            request,
        )
    )
    target = base64.b64encode(request).decode().replace("/", "%2F")
    (directory / "http-get.txt").write_bytes(_http(f"GET /ocsp/{target} HTTP/1.1\nHost: x", b""))


def inspect(files: Path, *args: str) -> int:
    return main(["inspect", *(a.replace("@", str(files) + "/") for a in args)])


@pytest.mark.parametrize("name", ["resp.der", "resp.b64", "resp.pem"])
def test_inspect_reads_der_pem_base64(
    files: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = inspect(
        files, f"@{name}", "--issuer", "@intermediate.pem", "--cert", "@server.pem", "--at", AT
    )
    out = capsys.readouterr().out
    assert code == 1  # revoked: refused, as check would
    assert "responseStatus  successful" in out
    assert "SingleResponse 1" in out and "revoked (keyCompromise" in out
    assert "certificate 1" in out and "id-pkix-ocsp-nocheck yes" in out
    assert "status      revoked" in out and "trusted_by  dtm" in out


def test_inspect_with_request_checks_nonce(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = inspect(
        files, "@resp.der", "--request", "@req.der", "--issuer", "@intermediate.pem", "--at", AT
    )
    assert code == 1  # revoked: refused, as check would
    assert "echoed" in capsys.readouterr().out
    code = inspect(
        files,
        "@resp.der",
        "--request",
        "@other-req.der",
        "--issuer",
        "@intermediate.pem",
        "--at",
        AT,
    )
    out = capsys.readouterr().out
    assert code == 1 and "nonce-mismatch" in out


def test_inspect_bad_signature_exits_1(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = inspect(files, "@corrupt.der", "--issuer", "@intermediate.pem", "--at", AT)
    out = capsys.readouterr().out
    assert code == 1
    assert "signer      fail" in out and "bad-signature" in out
    assert "had the signer been trusted" in out
    assert "cert-status skip revoked, reason keyCompromise" in out


def test_inspect_without_issuer_only_trp_can_run(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, "@resp.der", "--at", AT) == 1
    assert "Delegated Trust Model cannot run" in capsys.readouterr().out
    code = inspect(files, "@trp.der", "--trust", "@trusted-responder.pem", "--at", AT)
    out = capsys.readouterr().out
    assert code == 0 and "trusted_by  trp" in out and "serial not checked" in out


def test_inspect_stale_at_later_time(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = inspect(
        files, "@resp.der", "--issuer", "@intermediate.pem", "--at", "2025-03-05T00:00:00Z"
    )
    assert code == 1
    assert "stale-response" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("req.der", "an OCSP request (DER)"),
        ("req.pem", "an OCSP request (PEM OCSP REQUEST)"),
        ("req.b64", "an OCSP request (base64)"),
        ("server.pem", "a certificate (PEM CERTIFICATE)"),
        ("server.der", "a certificate (DER)"),
        ("server.csr", "a certificate signing request (CSR) (PEM CERTIFICATE REQUEST)"),
        ("server.key", "a private key (PEM PRIVATE KEY)"),
        ("server-key.der", "a private key (DER)"),
        ("locked.key", "a private key (PEM ENCRYPTED PRIVATE KEY)"),
        ("server.pub", "a public key (PEM PUBLIC KEY)"),
        ("intermediate.crl", "a certificate revocation list (CRL) (DER)"),
        ("error.html", "an HTML page"),
        ("empty.der", "nothing (empty)"),
        ("garbage.bin", "unrecognised data"),
    ],
)
def test_inspect_names_what_the_file_is_instead_of_a_response(
    files: Path, name: str, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, f"@{name}") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.endswith(f"{name}: {what}, expected an OCSP response as DER, PEM or base64")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("resp.der", "an OCSP response (DER)"),
        ("server.pem", "a certificate (PEM CERTIFICATE)"),
        ("http-ok.txt", "an OCSP response (DER) in an HTTP message (HTTP/1.1 200 OK)"),
    ],
)
def test_inspect_names_what_the_request_file_is(
    files: Path, name: str, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, "@resp.der", "--request", f"@{name}") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.endswith(f"{name}: {what}, expected an OCSP request as DER, PEM or base64")


def test_inspect_reads_the_body_of_an_http_response(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = inspect(files, "@http-ok.txt", "--issuer", "@intermediate.pem", "--at", AT)
    out = capsys.readouterr().out
    assert code == 1  # revoked: refused, as check would
    assert "HTTP message    HTTP/1.1 200 OK" in out
    assert "Content-Type    application/ocsp-response" in out
    assert "status      revoked" in out and "transport" not in out


def test_inspect_warns_of_a_wrong_content_type_and_goes_on(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = inspect(files, "@http-wrong-type.txt", "--issuer", "@intermediate.pem", "--at", AT)
    out = capsys.readouterr().out
    assert code == 1  # revoked: refused, as check would
    assert "Content-Type    text/plain" in out
    assert "transport   warn content type not application/ocsp-response" in out
    assert "status      revoked" in out


@pytest.mark.parametrize(
    ("name", "start_line", "finding"),
    [
        ("http-503.txt", "HTTP/1.1 503 Service Unavailable", "HTTP status 503, not 200"),
        ("http-html.txt", "HTTP/1.0 200 OK", "Content-Type text/html: an HTML page"),
    ],
)
def test_inspect_http_error_or_html_is_the_finding(
    files: Path, name: str, start_line: str, finding: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = inspect(files, f"@{name}", "--issuer", "@intermediate.pem", "--at", AT)
    out = capsys.readouterr().out
    assert code == 1
    assert f"HTTP message    {start_line}" in out
    assert "Content-Type    text/html" in out
    assert f"transport   fail {finding}" in out
    assert "the body is an HTML page" in out
    assert "responseStatus" not in out


@pytest.mark.parametrize(
    ("body", "what"),
    [(b"", "nothing (empty)"), (b"\x30\x82\x01\x00\x0a", "unrecognised data (DER)"),
     (b"not ocsp at all", "unrecognised data")],
)  # fmt: skip
def test_inspect_an_http_200_without_an_ocsp_body_is_the_finding(
    files: Path, tmp_path: Path, body: bytes, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What came over the wire as the answer is not one: malformed-response, as check finds.
    message = tmp_path / "http-ok-unreadable.txt"
    message.write_bytes(_http("HTTP/1.1 200 OK\nContent-Type: application/ocsp-response", body))
    code = inspect(files, str(message), "--cc", "off", "--at", AT)
    out = capsys.readouterr().out
    assert code == 0  # no trustworthy answer: soft-fail with Common Criteria OFF
    assert "transport   fail HTTP 200 without an OCSP response in its body" in out
    assert f"the body is {what}" in out
    assert "error       malformed-response" in out
    assert "allowed, flagged soft-fail (row 'error'" in out


@pytest.mark.parametrize("name", ["http-post.txt", "http-get.txt", "req.pem", "req.b64"])
def test_inspect_reads_a_request_in_any_form(
    files: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = inspect(
        files, "@resp.der", "--request", f"@{name}", "--issuer", "@intermediate.pem", "--at", AT
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert REFUSED_REVOKED in out
    assert "echoed" in out
    assert ("HTTP message    " in out) is name.startswith("http-")


def test_inspect_names_a_certificate_option_of_another_kind(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, "@resp.der", "--issuer", "@server.key") == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "server.key: a private key (PEM PRIVATE KEY), expected a PEM or DER X.509 certificate"
    )


@pytest.mark.parametrize("name", ["garbage.bin", "missing.der", "server.pem"])
def test_inspect_unreadable_exits_2(
    files: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, f"@{name}") == 2
    err = capsys.readouterr().err
    assert name in err and len(err.strip().splitlines()) == 1


def test_inspect_bad_time_is_usage_error(files: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inspect(files, "@resp.der", "--at", "yesterday")
    assert exit_info.value.code == 2


def test_inspect_end_to_end_subprocess(files: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "inspect",
            "resp.b64",
            "--issuer",
            "intermediate.pem",
            "--at",
            AT,
        ],
        cwd=files,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "status      revoked" in proc.stdout
    assert REFUSED_REVOKED in proc.stdout


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n\r\n", b"POST / HTTP/1.1\r\n\r\n", b"0"]),
    body=st.binary(max_size=300),
)
def test_sniff_never_raises(head: bytes, body: bytes) -> None:
    """Whatever the bytes, sniff names a kind; DER kinds carry their DER."""
    capture = sniff(head + body)
    assert capture.describe()
    assert capture.kind is CaptureKind.UNKNOWN or capture.kind is CaptureKind.HTML or capture.der
