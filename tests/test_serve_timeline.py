"""``serve SCENARIO`` runs its steps on the real clock (issue 13), once for every worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from responder.app import ADMIN_PREFIX
from tests.test_serve import _free_port, _wait_listening

pytestmark = pytest.mark.interop

SCENARIO = """
title = "Revoked a second after the lab starts, then the nonce goes"

[[step]]
at = "0"
connect = "server"
expect = { connection = "allowed" }

[[step]]
at = "+1s"
revoke = "server"
reason = "keyCompromise"

[[step]]
at = "+2s"
faults = { nonce = "omit" }
"""


def _state(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{ADMIN_PREFIX}/state", timeout=10) as r:
        doc: dict[str, object] = json.load(r)
    return doc


def _server_status(port: int) -> str:
    certificates = _state(port)["certificates"]
    assert isinstance(certificates, list)
    return next(str(c["status"]) for c in certificates if c["name"] == "server")


def test_serve_runs_the_steps_at_their_real_offsets(tmp_path: Path) -> None:
    scenario = tmp_path / "timeline.toml"
    scenario.write_text(SCENARIO)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", str(scenario), "--port", str(port),
         "--out", str(tmp_path / "o"), "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        started = time.monotonic()
        assert _server_status(port) == "good"  # before +1s
        deadline = started + 10
        while _server_status(port) != "revoked" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _server_status(port) == "revoked"
        assert time.monotonic() - started >= 0.5  # not at once: at its offset
        while _state(port)["faults"] != {"nonce": "omit"} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _state(port)["faults"] == {"nonce": "omit"}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    lines = [line for line in err.splitlines() if "timeline:" in line]
    assert "timeline: 3 step(s); next: step[0] at 0 (connect server)" in lines[0]
    assert any("step[1] at +1s (revoke server" in line and "done" in line for line in lines)
    assert any("is the product's part" in line for line in lines)
    assert lines[-1].endswith("no step comes next")
