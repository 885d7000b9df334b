"""Replay (``[responder] replay``, ``serve --replay``): the captured bytes, and nothing else.

Over HTTP the served body equals the capture byte for byte, for POST and GET,
for any request; the transport faults still bend the exchange and no other
fault touches the bytes. The catalog's replay scenario gives the verdict
``inspect`` gives on its capture.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.commands.serve import responder_config
from lab.errors import LabError, UsageError
from lab.scenario import load_scenario, read_scenarios
from pki import EPOCH, PKI, build_pki
from responder.app import create_app, lab_responder
from responder.config import BodyFault, Faults, NonceFault, ResponderConfig
from responder.server import InProcessServer
from responder.testing import ocsp_request

SCENARIO = Path(__file__).parent.parent / "scenarios" / "field" / "replayed-capture.toml"
CAPTURE = SCENARIO.with_suffix(".der").read_bytes()


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(load_scenario(SCENARIO).pki, t0=EPOCH)


@pytest.fixture(scope="module")
def server(pki: PKI) -> Iterator[InProcessServer]:
    app = create_app(pki, config=ResponderConfig(replay=CAPTURE))
    with InProcessServer(app) as running:
        yield running


def _ask(server: InProcessServer, method: str, body: bytes) -> tuple[int, str | None, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        if method == "GET":
            path = "/" + urllib.parse.quote(base64.b64encode(body).decode(), safe="")
            connection.request("GET", path)
        else:
            headers = {"Content-Type": "application/ocsp-request"}
            connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("names", [["server"], ["responder"], ["server", "root-responder"]])
def test_every_request_gets_the_captured_bytes(
    server: InProcessServer, pki: PKI, method: str, names: list[str]
) -> None:
    request = ocsp_request(pki, names, nonce=b"\x05" * 32)
    assert _ask(server, method, request) == (200, "application/ocsp-response", CAPTURE)


def test_an_unreadable_request_gets_them_too(server: InProcessServer) -> None:
    assert _ask(server, "POST", b"\x30\x03not ocsp")[2] == CAPTURE


def test_transport_faults_apply_and_nothing_else_touches_the_bytes(
    server: InProcessServer, pki: PKI
) -> None:
    state = lab_responder(server.app).state
    request = ocsp_request(pki, ["server"], nonce=b"\x06" * 32)
    try:
        state.set_faults(Faults(content_type="text/html"))
        assert _ask(server, "POST", request) == (200, "text/html", CAPTURE)
        state.set_faults(Faults(http_status=503))
        assert _ask(server, "POST", request)[:1] == (503,)
        # Content and byte faults (set at run time, as the admin API can): the capture goes out.
        bending = Faults(nonce=NonceFault.WRONG, signature_corrupt=True, body=BodyFault.GARBAGE)
        state.set_faults(bending)
        assert _ask(server, "POST", request)[2] == CAPTURE
    finally:
        state.set_faults(Faults())


def test_the_catalog_scenario_gives_inspect_s_verdict(
    pki: PKI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("server", "intermediate"):
        pem = pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{name}.pem").write_bytes(pem)
    at = EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ")
    report = tmp_path / "run.json"
    assert main(["run", str(SCENARIO), "--json", str(report)]) == 0
    modes = json.loads(report.read_text())["scenarios"][0]["modes"]
    decided = {m["mode"]: m["expectations"][0]["actual"]["check"]["decided_by"] for m in modes}
    assert set(decided) == {"cc-on", "cc-off"}
    capsys.readouterr()
    for mode, cc in (("cc-on", "on"), ("cc-off", "off")):
        code = main(
            [
                "inspect",
                str(SCENARIO.with_suffix(".der")),
                "--issuer",
                str(tmp_path / "intermediate.pem"),
                "--cert",
                str(tmp_path / "server.pem"),
                "--at",
                at,
                "--cc",
                cc,
            ]
        )
        out = capsys.readouterr().out
        assert code == 1
        assert f"\nverdict {decided[mode]}\n" in out, (mode, out)


def test_the_capture_is_material_not_a_skipped_file() -> None:
    catalog = read_scenarios([SCENARIO.parent])
    assert not catalog.skipped and not catalog.bad
    (replayed,) = [s for s in catalog.scenarios if s.id == "field/replayed-capture"]
    assert replayed.responder.replay == CAPTURE


def _scenario(tmp_path: Path, responder: str) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(f'title = "replay"\n\n[responder]\n{responder}\n')
    return path


@pytest.mark.parametrize(
    "form",
    [
        lambda der: der,
        lambda der: base64.b64encode(der),
        lambda der: (
            b"-----BEGIN OCSP RESPONSE-----\n"
            + base64.encodebytes(der)
            + b"-----END OCSP RESPONSE-----\n"
        ),
    ],
    ids=["der", "base64", "pem"],
)
def test_the_loader_reads_der_pem_base64_relative_to_the_file(tmp_path: Path, form: object) -> None:
    (tmp_path / "captures").mkdir()
    (tmp_path / "captures" / "answer").write_bytes(form(CAPTURE))  # type: ignore[operator]
    scenario = load_scenario(_scenario(tmp_path, 'replay = "captures/answer"'))
    assert scenario.responder.replay == CAPTURE


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        (b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "is a certificate"),
        (b"HTTP/1.1 200 OK\r\n\r\n" + CAPTURE, "in an HTTP message"),
    ],
)
def test_the_loader_refuses_what_is_no_capture_in_one_line(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "answer.der").write_bytes(content)
    with pytest.raises(LabError) as caught:
        load_scenario(_scenario(tmp_path, 'replay = "answer.der"'))
    (line,) = caught.value.lines
    assert "responder.replay" in line and expected in line


def test_the_loader_refuses_content_faults_with_a_replay(tmp_path: Path) -> None:
    (tmp_path / "answer.der").write_bytes(CAPTURE)
    faults = 'replay = "answer.der"\n\n[responder.faults]\ndelay = "10ms"\nnonce = "omit"\n'
    with pytest.raises(LabError) as caught:
        load_scenario(_scenario(tmp_path, faults))
    (line,) = caught.value.lines
    assert "responder.faults" in line and "only the transport faults" in line and "nonce" in line
    assert "delay" not in line.split("found")[-1]


def test_serve_replay_reads_the_capture_or_says_what_the_file_is(tmp_path: Path, pki: PKI) -> None:
    (tmp_path / "answer.b64").write_bytes(base64.b64encode(CAPTURE))
    assert responder_config(None, str(tmp_path / "answer.b64")).replay == CAPTURE
    cert = tmp_path / "server.pem"
    cert.write_bytes(pki["server"].certificate.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(UsageError) as caught:
        responder_config(None, str(cert))
    assert "a certificate (PEM CERTIFICATE), expected an OCSP response" in str(caught.value)
    content = _scenario(tmp_path, '[responder.faults]\nanswer = "good"')
    content.write_text('title = "t"\n\n[responder.faults]\nanswer = "good"\n')
    with pytest.raises(UsageError) as caught:
        responder_config(str(content), str(tmp_path / "answer.b64"))
    assert "faults answer cannot apply to a replay" in str(caught.value)


def test_the_loader_refuses_a_step_s_content_faults_with_a_replay(tmp_path: Path) -> None:
    (tmp_path / "answer.der").write_bytes(CAPTURE)
    path = _scenario(tmp_path, 'replay = "answer.der"')
    text = path.read_text() + '\n[[step]]\nat = "1h"\nfaults = { answer = "good" }\n'
    text += '\n[[step]]\nat = "2h"\nfaults = { http_status = 500 }\n'
    path.write_text(text)
    with pytest.raises(LabError) as caught:
        load_scenario(path)
    (line,) = caught.value.lines
    assert "step[0].faults" in line and "answer" in line


def test_explain_says_the_responder_replays(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SCENARIO)]) == 0
    out = capsys.readouterr().out
    assert f"replays a captured response ({len(CAPTURE)} bytes, responseStatus successful)" in out
