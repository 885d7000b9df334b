"""``ocsp-lab connect``: the reference product as a TLS client, against the lab's endpoint
and against ``openssl s_server`` (with a stapled answer from the lab's responder, and without).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.cli import main
from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.tls import Alert, HandshakeOutcome, StapleSource, TlsEndpoint
from tests.peers import openssl_tls_server

pytestmark = pytest.mark.interop


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def endpoint(ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle) -> Iterator[TlsEndpoint]:
    pki = ocsp_pki.pki
    with TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki["intermediate"].certificate],
        staple=StapleSource(pki["server"].certificate, pki["intermediate"].certificate, now=_now),
        handshake_timeout=5.0,
        idle_timeout=0.5,
    ) as served:
        yield served


def _connect(
    capsys: pytest.CaptureFixture[str], port: int, root: Path, *options: str
) -> tuple[int, dict[str, object]]:
    code = main(["connect", f"127.0.0.1:{port}", "--trust", str(root), "--json", *options])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("state", "cc", "code", "alert"),
    [
        ("good", "on", 0, None),
        ("revoked", "on", 1, Alert.CERTIFICATE_REVOKED),
        ("revoked", "off", 1, Alert.CERTIFICATE_REVOKED),
        ("unknown", "on", 1, Alert.CERTIFICATE_UNKNOWN),
        ("unknown", "off", 0, None),
    ],
)
def test_connect_to_the_lab_endpoint_decides_as_the_model_and_the_endpoint_sees_it(
    endpoint: TlsEndpoint,
    ocsp_pki: LabFiles,
    ocsp_responder: LabResponderHandle,
    capsys: pytest.CaptureFixture[str],
    state: str,
    cc: str,
    code: int,
    alert: Alert | None,
) -> None:
    if state == "revoked":
        ocsp_responder.revoke("server", "keyCompromise")
    elif state == "unknown":
        ocsp_responder.set_faults(answer="unknown")
    got, report = _connect(capsys, endpoint.port, ocsp_pki.cert_path("root"), "--cc", cc)
    assert got == code, report
    check = report["check"]
    assert isinstance(check, dict)
    assert check["checks"][0]["evidence"]["status"] == state
    (record,) = endpoint.wait_for(1)
    if alert is None:
        assert record.outcome is HandshakeOutcome.COMPLETED
    else:
        assert record.outcome is HandshakeOutcome.PEER_ALERT
        assert record.alert is alert
        assert report["connection"]["alert"] == alert.rfc_name  # type: ignore[index]


def test_connect_prints_the_evidence_and_the_verdict(
    endpoint: TlsEndpoint,
    ocsp_pki: LabFiles,
    ocsp_responder: LabResponderHandle,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ocsp_responder.revoke("server", "keyCompromise")
    code = main(
        ["connect", f"localhost:{endpoint.port}", "--trust", str(ocsp_pki.cert_path("root"))]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "local-alert (44 certificate_revoked)" in out
    assert "reason      keyCompromise" in out
    assert "trusted_by  dtm" in out
    assert "verdict refused" in out and out.rstrip().endswith("outcome refused")


def _staple_file(ocsp_pki: LabFiles, directory: Path) -> Path:
    staple = StapleSource(ocsp_pki.certificate("server"), ocsp_pki.issuer("server"), now=_now)
    answer = staple.staple()
    assert answer is not None
    path = directory / "staple.der"
    path.write_bytes(answer)
    return path


@pytest.mark.parametrize(
    ("stapled", "stapling", "code", "status"),
    [
        # The staple (good, taken before the revocation) against the responder (revoked now).
        (True, "use", 0, "good"),  # judged the staple, asked nothing
        (True, "ignore", 1, "revoked"),  # asked the responder
        (False, "use", 1, "revoked"),  # no staple: asked the responder
        (False, "require", 1, "revoked"),  # not must-staple: as use
    ],
)
def test_connect_to_openssl_s_server_with_and_without_a_staple(
    ocsp_pki: LabFiles,
    ocsp_responder: LabResponderHandle,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    stapled: bool,
    stapling: str,
    code: int,
    status: str,
) -> None:
    staple = _staple_file(ocsp_pki, tmp_path)
    ocsp_responder.revoke("server", "keyCompromise")
    with openssl_tls_server(
        tmp_path,
        cert=str(ocsp_pki.cert_path("server")),
        key=str(ocsp_pki.key_path("server")),
        chain=str(ocsp_pki.cert_path("intermediate")),
        status_file=str(staple) if stapled else None,
    ) as port:
        got, report = _connect(
            capsys, port, ocsp_pki.cert_path("root"), "--stapling", stapling, "--check", "leaf"
        )
    assert got == code, report
    assert report["stapled"] is stapled
    evidence = report["check"]["checks"][0]["evidence"]  # type: ignore[index]
    assert evidence["status"] == status
    steps = [s["step"] for s in evidence["steps"]]
    assert ("uri" in steps) is (status == "revoked")  # asked the responder, or not at all
    assert report["connection"]["outcome"] == ("completed" if code == 0 else "local-alert")  # type: ignore[index]


def test_connect_to_nothing_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert main(["connect", f"127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"ocsp-lab: error: 127.0.0.1:{port}: cannot connect")
        and err.count("\n") == 1
    )


@pytest.mark.parametrize(
    "address", ["localhost", "localhost:0", "localhost:http", ":443", "h:99999"]
)
def test_connect_refuses_a_bad_address(capsys: pytest.CaptureFixture[str], address: str) -> None:
    assert main(["connect", address]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["connect", "listen"])
def test_connect_and_listen_take_check_s_judging_options(command: str) -> None:
    # One set of switches for every command that judges (lab/commands/judging.py).
    from lab.cli import _parser

    argv = {
        "connect": ["connect", "127.0.0.1:1"],
        "listen": ["listen", "--cert", "c", "--key", "k"],
    }
    args = _parser().parse_args(
        [*argv[command], "--cc", "off", "--hard-fail", "--clock-skew", "90s", "--require-nonce"]
    )
    assert (args.cc, args.soft_fail, args.require_nonce) == ("off", False, True)
    assert args.clock_skew.total_seconds() == 90
    with pytest.raises(SystemExit) as refused:
        _parser().parse_args([*argv[command], "--clock-skew", "1.5s"])
    assert refused.value.code == 2
