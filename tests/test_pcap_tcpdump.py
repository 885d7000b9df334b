"""``tcpdump -w`` on loopback while ``check --save`` asks the lab: the capture holds those bytes.

A real capture (tcpdump's own link layer and TCP segmentation) read by
:mod:`lab.pcap`; the oracle is what ``check --save`` kept of the same
exchanges, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from lab.cli import main
from lab.pcap import PcapExchange, read_exchanges
from pki import build_pki, calendar_t0
from responder.app import create_app
from responder.server import InProcessServer
from tests.conftest import require_program

pytestmark = pytest.mark.interop


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[InProcessServer, Path]]:
    lab_pki = build_pki(t0=calendar_t0(dt.datetime.now(dt.UTC)))
    for name in ("server", "intermediate"):
        pem = lab_pki[name].certificate.public_bytes(serialization.Encoding.PEM)
        (tmp_path / f"{name}.pem").write_bytes(pem)
    with InProcessServer(create_app(lab_pki)) as server:
        yield server, tmp_path


def _wait_for(path: Path, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Until tcpdump has written its file header (it listens by then): a bounded wait."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tcpdump stopped: {proc.stderr.read() if proc.stderr else ''!r}")
        if path.exists() and path.stat().st_size >= 24:
            return
        time.sleep(0.02)
    raise AssertionError("tcpdump did not start within 10 s")


def test_tcpdump_captures_what_check_saved(
    served: tuple[InProcessServer, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tcpdump = require_program("tcpdump")
    server, files = served
    capture = files / "lo.pcap"
    proc = subprocess.Popen(
        [tcpdump, "-i", "lo", "-U", "-s", "0", "-w", str(capture), f"tcp port {server.port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(capture, proc, time.monotonic() + 10)
        for method in ("post", "get"):
            code = main(
                [
                    "check", str(files / "server.pem"), "--issuer", str(files / "intermediate.pem"),
                    "--url", server.url, "--method", method, "--save", str(files / method),
                ]
            )  # fmt: skip
            assert code == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_read(capture)) < 2:
            time.sleep(0.05)  # -U writes each packet as it comes: bounded wait for the last
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    capsys.readouterr()
    exchanges = _read(capture)
    assert len(exchanges) == 2
    for exchange, method in zip(exchanges, ("post", "get"), strict=True):
        saved = files / method
        assert exchange.request.der == (saved / "1-request.der").read_bytes()
        assert exchange.response is not None
        assert exchange.response.der == (saved / "1-response.der").read_bytes()
        assert exchange.request.http is not None
        assert exchange.request.http.start_line.startswith(method.upper() + " ")


def _read(capture: Path) -> list[PcapExchange]:
    try:
        return list(read_exchanges(capture.read_bytes()))
    except ValueError:
        return []  # the last packet half-written yet
