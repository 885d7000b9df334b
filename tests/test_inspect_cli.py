"""``ocsp-lab inspect``: decode a captured response and run what can run; every exit code."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.ocsp_request import build_request
from pki import PKI
from tests.ocsp_forge import NOW, Single, forge

AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
NONCE = b"\x07" * 32


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
    return directory


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
    assert code == 0
    assert "responseStatus  successful" in out
    assert "SingleResponse 1" in out and "revoked (keyCompromise" in out
    assert "certificate 1" in out and "id-pkix-ocsp-nocheck yes" in out
    assert "status      revoked" in out and "trusted_by  dtm" in out


def test_inspect_with_request_checks_nonce(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = inspect(
        files, "@resp.der", "--request", "@req.der", "--issuer", "@intermediate.pem", "--at", AT
    )
    assert code == 0
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
    assert proc.returncode == 0, proc.stderr
    assert "status      revoked" in proc.stdout
