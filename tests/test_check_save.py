"""``check --save DIR`` keeps the exchange; ``inspect DIR`` reads it back to the same verdict.

The responder is the lab's own, in process, on the real clock (``check``
judges as of now); ``openssl ocsp -respin`` reads the saved response as an
outside oracle of what was kept.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from pki import CertSpec, EntrySpec, PKISpec, RecordStatus, build_pki, calendar_t0
from responder.app import create_app, lab_responder
from responder.config import Faults
from responder.server import InProcessServer

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, Path]]:
    spec = PKISpec.with_defaults(
        (CertSpec("revoked-leaf", issuer="intermediate"),),
        database={"revoked-leaf": EntrySpec(RecordStatus.REVOKED, "keyCompromise")},
    )
    lab_pki = build_pki(spec, t0=calendar_t0(dt.datetime.now(dt.UTC)))
    directory = tmp_path_factory.mktemp("check-save")
    for name in ("server", "revoked-leaf", "intermediate", "root"):
        pem = lab_pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (directory / f"{name}.pem").write_bytes(pem)
    with InProcessServer(create_app(lab_pki)) as server:
        yield server, directory


def _verdict(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("verdict ")]
    return line


def _check_then_inspect(
    served: tuple[InProcessServer, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cert: str,
    *policy: str,
) -> tuple[int, str, int, str]:
    server, files = served
    saved = tmp_path / "saved"
    code = main(
        [
            "check",
            str(files / cert),
            "--issuer",
            str(files / "intermediate.pem"),
            "--url",
            server.url,
            "--trust",
            str(files / "root.pem"),
            "--save",
            str(saved),
            *policy,
        ]
    )
    checked = capsys.readouterr().out
    inspected_code = main(["inspect", str(saved), *policy])
    inspected = capsys.readouterr().out
    return code, _verdict(checked), inspected_code, _verdict(inspected)


@pytest.mark.parametrize(
    ("cert", "code", "row"),
    [("server.pem", 0, "good"), ("revoked-leaf.pem", 1, "revoked")],
)
def test_inspect_of_the_saved_folder_gives_check_s_verdict(
    served: tuple[InProcessServer, Path],
    tmp_path: Path,
    cert: str,
    code: int,
    row: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checked_code, checked, inspected_code, inspected = _check_then_inspect(
        served, tmp_path, capsys, cert
    )
    assert (checked_code, inspected_code) == (code, code)
    assert f"(row '{row}'" in checked
    assert inspected == checked


def test_the_folder_holds_the_exchange(
    served: tuple[InProcessServer, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, files = served
    _check_then_inspect(served, tmp_path, capsys, "revoked-leaf.pem")
    saved = tmp_path / "saved"
    index = json.loads((saved / "exchanges.json").read_text())
    (exchange,) = index["exchanges"]
    assert (exchange["url"], exchange["method"], exchange["http_status"]) == (
        server.url,
        "post",
        200,
    )
    headers = {name.lower(): value for name, value in exchange["headers"]}
    assert headers["content-type"] == "application/ocsp-response"
    assert int(headers["content-length"]) == (saved / "1-response.der").stat().st_size
    assert (saved / "1-cert.pem").read_bytes() == (files / "revoked-leaf.pem").read_bytes()
    assert (saved / "1-issuer.pem").read_bytes() == (files / "intermediate.pem").read_bytes()
    # The saved bytes are what openssl reads as the same request and answer.
    text = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-reqin",
            str(saved / "1-request.der"),
            "-respin",
            str(saved / "1-response.der"),
            "-noverify",
            "-resp_text",
            "-req_text",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert "OCSP Nonce" in text and "Cert Status: revoked" in text
    assert "Revocation Reason: keyCompromise" in text


def test_a_saved_http_error_is_judged_again(
    served: tuple[InProcessServer, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = served
    state = lab_responder(server.app).state
    state.set_faults(Faults(http_status=503))
    try:
        results = _check_then_inspect(served, tmp_path, capsys, "server.pem", "--cc", "off")
    finally:
        state.set_faults(Faults())
    checked_code, checked, inspected_code, inspected = results
    assert (checked_code, inspected_code) == (0, 0)
    assert "allowed, flagged soft-fail (row 'error'" in checked
    assert inspected == checked
    assert main(["inspect", str(tmp_path / "saved"), "--hard-fail"]) == 1
    out = capsys.readouterr().out
    assert "http-status" in out
    assert f"* 1. POST {server.url} => HTTP 503, text/plain" in out


def test_a_folder_that_is_not_a_saved_check_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "expected a folder written by check --save" in err
    (tmp_path / "exchanges.json").write_text('{"format": 1, "checked_at": 3}')
    assert main(["inspect", str(tmp_path)]) == 2
    assert "key 'checked_at'" in capsys.readouterr().err


def test_exchange_out_of_range_is_one_line(
    served: tuple[InProcessServer, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check_then_inspect(served, tmp_path, capsys, "server.pem")
    assert main(["inspect", str(tmp_path / "saved"), "--exchange", "2"]) == 2
    assert "--exchange 2: expected 1 to 1" in capsys.readouterr().err
