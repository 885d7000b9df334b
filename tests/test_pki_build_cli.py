"""``ocsp-lab pki build``: the files, their modes, and bad input (exit 2, one line)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12

from lab.cli import main
from pki.export import P12_PASSWORD


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_build_writes_every_file_with_private_modes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pki"
    assert main(["pki", "build", "--out", str(out), "--t0", "2026-01-01"]) == 0
    names = {p.name for p in out.iterdir()}
    certs = ["root", "intermediate", "server", "responder", "root-responder", "trusted-responder"]
    for name in certs:
        assert {f"{name}.pem", f"{name}.key"} <= names
        assert _mode(out / f"{name}.key") == 0o600
        key = load_pem_private_key((out / f"{name}.key").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((out / f"{name}.pem").read_bytes())
        assert key.public_key() == cert.public_key()
    assert {"chain.pem", "server.p12", "README.txt"} <= names
    assert {"root.index.txt", "intermediate.index.txt", "intermediate.index.txt.attr"} <= names
    assert (out / "intermediate.index.txt.attr").read_text() == "unique_subject = no\n"
    assert _mode(out) == 0o700
    assert _mode(out / "server.p12") == 0o600
    chain = x509.load_pem_x509_certificates((out / "chain.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=intermediate,O=ocsp-lab",
        "CN=root,O=ocsp-lab",
    ]
    p12 = pkcs12.load_pkcs12((out / "server.p12").read_bytes(), P12_PASSWORD)
    assert p12.cert is not None and len(p12.additional_certs) == 2
    readme = (out / "README.txt").read_text()
    assert "server.p12" in readme and "openssl ocsp" in readme
    printed = capsys.readouterr().out
    assert "└─ responder" in printed and "t0 2026-01-01" in printed


def test_build_is_byte_identical_across_runs(tmp_path: Path) -> None:
    for run in ("a", "b"):
        assert main(["pki", "build", "--out", str(tmp_path / run), "--t0", "2026-01-01"]) == 0
    for path in (tmp_path / "a").iterdir():
        if path.suffix in (".pem", ".key") or path.name.endswith(".index.txt"):
            assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_base_url_reaches_the_certificates(tmp_path: Path) -> None:
    assert (
        main(["pki", "build", "--out", str(tmp_path), "--base-url", "http://10.0.0.5:2560/"]) == 0
    )
    assert "http://10.0.0.5:2560/" in (tmp_path / "README.txt").read_text()
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://10.0.0.5:2560/"


def test_bad_t0_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pki", "build", "--out", str(tmp_path), "--t0", "tomorrow"])
    assert exit_info.value.code == 2
    assert "--t0: expected a date like 2026-01-01" in capsys.readouterr().err


def test_missing_scenario_exits_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pki", "build", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "missing.toml" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_unwritable_out_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["pki", "build", "--out", str(blocker / "sub")]) == 2
    assert "cannot write the PKI" in capsys.readouterr().err


def test_console_script_runs_as_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "pki", "build", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "PKI written to" in proc.stdout


def test_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    # `ocsp-lab … | head`: the reader leaves early (`true` reads nothing at all).
    proc = subprocess.run(
        f"{sys.executable} -m lab pki build --out {tmp_path} | true",
        shell=True, capture_output=True, text=True,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr
