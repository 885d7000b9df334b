"""``ocsp-lab serve --tls PORT``: a revoked scenario's leaf over TLS, refused by real peers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.test_serve import _free_port, _wait_listening

pytestmark = pytest.mark.interop

REVOKED = """title = "revoked, stapled"
[database]
server = { status = "revoked", reason = "keyCompromise", since = "-1d" }
[tls]
staple = true
"""


def test_serve_tls_presents_the_leaf_and_real_peers_refuse_it(tmp_path: Path) -> None:
    gnutls = require_program("gnutls-cli")
    scenario = tmp_path / "revoked.toml"
    scenario.write_text(REVOKED, encoding="utf-8")
    port, tls = _free_port(), _free_port()
    out = tmp_path / "serve"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", str(scenario), "--port", str(port),
         "--tls", str(tls), "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)  # type: ignore[arg-type]
        _wait_listening(tls, proc)  # type: ignore[arg-type]
        connect = subprocess.run(
            [sys.executable, "-m", "lab", "connect", f"127.0.0.1:{tls}",
             "--trust", str(out / "root.pem"), "--stapling", "use"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        peer = subprocess.run(
            [gnutls, "--ocsp", "--x509cafile", str(out / "root.pem"), "-p", str(tls), "localhost"],
            input="hello\n", capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert connect.returncode == 1, connect.stdout + connect.stderr
    assert "staple      pass" in connect.stdout  # judged the endpoint's staple
    assert "reason      keyCompromise" in connect.stdout
    assert "local-alert (44 certificate_revoked)" in connect.stdout
    assert "certificate chain is revoked" in peer.stdout + peer.stderr
    assert "Handshake was completed" not in peer.stdout
    # serve's log: one line per TLS connection, with what the peer did (the first is the
    # readiness probe's bare TCP connect).
    lines = re.findall(r"tls 127\.0\.0\.1:\d+: (.*)", err)
    assert len(lines) == 3, err
    assert lines[0].startswith("the peer left mid-handshake without an alert"), lines[0]
    # The words the status page shows (lab.connection_story), with the alert's number and name.
    assert lines[1].startswith(
        "the peer refused: alert 44 certificate_revoked — it found the certificate revoked "
        "(server presented; stapled an OCSP answer ("
    ), lines[1]
    assert lines[2].startswith("the peer refused") and "stapled an OCSP answer" in lines[2]


def test_serve_tls_on_the_responders_port_is_refused(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--tls", str(port),
         "--out", str(tmp_path / "serve")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "the responder's --port" in proc.stderr and proc.stderr.count("\n") == 1
