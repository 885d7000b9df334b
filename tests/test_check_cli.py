"""``ocsp-lab check``: every exit code in-process, and one subprocess end-to-end run.

The responder is ``openssl ocsp -index`` over the exported PKI (real clock).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cli import main
from pki import (
    CertificateDatabase,
    CertSpec,
    EntrySpec,
    PKISpec,
    RecordStatus,
    build_pki,
    calendar_t0,
    write_pki,
)
from tests.peers import openssl_ocsp_responder

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    now = dt.datetime.now(dt.UTC)
    spec = PKISpec.with_defaults(
        (CertSpec("revoked-leaf", issuer="intermediate"),),
        database={"revoked-leaf": EntrySpec(RecordStatus.REVOKED, "keyCompromise")},
    )
    lab_pki = build_pki(spec, t0=calendar_t0(now))
    directory = tmp_path_factory.mktemp("check-cli")
    write_pki(lab_pki, CertificateDatabase.from_pki(lab_pki), directory, now=now)
    return directory


@pytest.fixture(scope="module")
def url(pki_dir: Path) -> Iterator[str]:
    with openssl_ocsp_responder(
        pki_dir,
        index="intermediate.index.txt",
        ca="intermediate.pem",
        rsigner="responder.pem",
        rkey="responder.key",
    ) as responder_url:
        yield responder_url


def run(pki_dir: Path, *args: str) -> int:
    return main(["check", *(a.replace("@", str(pki_dir) + "/") for a in args)])


def test_check_good_exits_0(pki_dir: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        pki_dir,
        "@server.pem",
        "--issuer",
        "@intermediate.pem",
        "--url",
        url,
        "--trust",
        "@root.pem",
    )
    out = capsys.readouterr().out
    assert code == 0
    for line in ("status      good", "trusted_by  dtm", "error       -", "verdict allowed"):
        assert line in out
    for step in ("uri", "request", "transport", "response", "signer", "cert-id", "freshness"):
        assert f"  {step} " in out


def test_check_revoked_exits_1(pki_dir: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        pki_dir,
        "@revoked-leaf.pem",
        "--issuer",
        "@intermediate.pem",
        "--url",
        url,
        "--cc",
        "off",
        "--method",
        "get",
        "--hash",
        "sha256",
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "status      revoked" in out and "reason      keyCompromise" in out
    assert "verdict refused" in out


def test_check_json(pki_dir: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(
        pki_dir,
        "@server.pem",
        "--issuer",
        "@intermediate.pem",
        "--url",
        url,
        "--json",
        "--no-nonce",
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    evidence = doc["checks"][0]["evidence"]
    assert (evidence["status"], evidence["trusted_by"], evidence["nonce"]) == (
        "good",
        "dtm",
        "not-sent",
    )
    assert doc["verdict"]["decision"] == "allowed"


@pytest.mark.parametrize(("flag", "code"), [("--soft-fail", 0), ("--hard-fail", 1)])
def test_check_unreachable_follows_soft_fail(
    pki_dir: Path, flag: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    got = run(
        pki_dir,
        "@server.pem",
        "--issuer",
        "@intermediate.pem",
        "--url",
        "http://127.0.0.1:1/",
        flag,
        "--timeout",
        "2s",
    )
    out = capsys.readouterr().out
    assert got == code
    assert "error       unreachable" in out


def test_check_chain_checks_the_intermediate(
    pki_dir: Path, url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The intermediate's AIA points at 127.0.0.1:8080, where nothing listens: error."""
    code = run(
        pki_dir,
        "@server.pem",
        "--issuer",
        "@intermediate.pem",
        "--chain",
        "@root.pem",
        "--url",
        "http://127.0.0.1:1/",
        "--cc",
        "on",
        "--timeout",
        "1s",
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("certificate CN=") == 2


def test_check_unreadable_cert_exits_2(
    pki_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    code = main(
        ["check", str(tmp_path / "junk.pem"), "--issuer", str(pki_dir / "intermediate.pem")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "junk.pem" in err and len(err.strip().splitlines()) == 1


def test_check_missing_file_exits_2(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(pki_dir, "@nope.pem", "--issuer", "@intermediate.pem") == 2
    assert "nope.pem" in capsys.readouterr().err


def test_check_bad_usage_exits_2(pki_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(pki_dir, "@server.pem")  # --issuer is required
    assert exit_info.value.code == 2


def test_check_end_to_end_subprocess(pki_dir: Path, url: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "check",
            "server.pem",
            "--issuer",
            "intermediate.pem",
            "--url",
            url,
            "--trust",
            "root.pem",
        ],
        cwd=pki_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "verdict allowed" in proc.stdout
