"""``ocsp-lab inspect`` answers "would Unified CM refuse this?": the policy switches of ``check``.

Each case is a response forged from the default PKI, judged under ``--cc``,
``--soft-fail`` / ``--hard-fail``, ``--clock-skew`` and ``--require-nonce``;
the exit code is ``check``'s (0 allowed, 1 refused) and the policy row is
printed (or in ``--json``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.ocsp_request import build_request
from pki import PKI
from tests.ocsp_forge import NOW, Single, forge

AT = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def files(default_pki: PKI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("inspect-verdict")
    server = default_pki["server"].certificate
    intermediate = default_pki["intermediate"].certificate
    for name in ("server", "intermediate"):
        pem = default_pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (directory / f"{name}.pem").write_bytes(pem)
    signer = default_pki["responder"]
    responses = {
        "good.der": forge(signer=signer, singles=[Single(server, intermediate)]),
        "unknown.der": forge(signer=signer, singles=[Single(server, intermediate, "unknown")]),
        "corrupt.der": forge(
            signer=signer, singles=[Single(server, intermediate)], corrupt_signature=True
        ),
    }
    for name, der in responses.items():
        (directory / name).write_bytes(der)
    (directory / "req.der").write_bytes(build_request(server, intermediate, nonce=b"\1" * 32).der)
    (directory / "http-503.txt").write_bytes(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<html></html>"
    )
    return directory


def inspect(files: Path, name: str, *args: str) -> int:
    return main(["inspect", str(files / name), "--issuer", str(files / "intermediate.pem"), *args])


@pytest.mark.parametrize(
    ("name", "args", "code", "verdict"),
    [
        ("good.der", [], 0, "allowed (row 'good', Common Criteria ON"),
        ("unknown.der", [], 1, "refused (row 'unknown', Common Criteria ON"),
        ("unknown.der", ["--cc", "off"], 0, "allowed (row 'unknown', Common Criteria OFF"),
        ("corrupt.der", [], 1, "refused (row 'error', Common Criteria ON"),
        ("corrupt.der", ["--cc", "off"], 0, "allowed, flagged soft-fail (row 'error'"),
        ("corrupt.der", ["--soft-fail"], 0, "allowed, flagged soft-fail (row 'error'"),
        (
            "corrupt.der",
            ["--cc", "off", "--hard-fail"],
            1,
            "refused (row 'error', Common Criteria OFF",
        ),
        ("http-503.txt", [], 1, "refused (row 'error', Common Criteria ON"),
        ("http-503.txt", ["--cc", "off"], 0, "allowed, flagged soft-fail (row 'error'"),
    ],
)
def test_the_verdict_follows_the_policy_switches(
    files: Path,
    name: str,
    args: list[str],
    code: int,
    verdict: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert inspect(files, name, "--at", AT, *args) == code
    out = capsys.readouterr().out
    assert f"\nverdict {verdict}" in out, out


def test_require_nonce_refuses_an_answer_without_it(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = ["--request", str(files / "req.der"), "--at", AT]
    assert inspect(files, "good.der", *request) == 0
    assert "nonce       warn nonce sent but not echoed" in capsys.readouterr().out
    assert inspect(files, "good.der", *request, "--require-nonce") == 1
    out = capsys.readouterr().out
    assert "error       nonce-missing" in out and "verdict refused (row 'error'" in out


def test_clock_skew_widens_the_freshness_window(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nextUpdate is NOW + 1 day (tests.ocsp_forge); 10 minutes later is past the 5 m default.
    late = (NOW + dt.timedelta(days=1, minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert inspect(files, "good.der", "--at", late) == 1
    assert "stale-response" in capsys.readouterr().out
    assert inspect(files, "good.der", "--at", late, "--clock-skew", "15m") == 0
    assert "verdict allowed (row 'good'" in capsys.readouterr().out


def test_json_holds_the_verdict_and_the_evidence(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inspect(files, "unknown.der", "--at", AT, "--cc", "off", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["verdict"]["decision"] == "allowed"
    assert document["verdict"]["row"] == "unknown"
    assert document["verdict"]["common_criteria"] is False
    assert document["evidence"]["status"] == "unknown"
    assert document["evidence"]["trusted_by"] == "dtm"
    assert "responseStatus  successful" in document["decoded"]


def test_a_bad_clock_skew_is_a_usage_error(files: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        inspect(files, "good.der", "--clock-skew", "soon")
    assert exit_info.value.code == 2
