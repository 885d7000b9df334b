"""``ocsp-lab serve`` end to end: gunicorn workers, the openssl client, live changes, restart."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509

from responder.app import ADMIN_PREFIX
from tests.peers import openssl_ocsp_client

pytestmark = pytest.mark.interop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"serve exited early: {proc.stderr.read() if proc.stderr else b''!r}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start listening")


@contextmanager
def _serving(out: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(out),
         "--workers", "2", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _status(out: Path, url: str) -> tuple[str, bool]:
    answer = openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", "server.pem", "-url", url, "-CAfile", "trust.pem"],
        cwd=out,
    )
    return answer.statuses.get("server.pem", answer.output), answer.verified


def test_serve_answers_changes_live_and_keeps_state_across_restart(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    out = tmp_path / "serve"
    with _serving(out, port) as proc:
        (out / "trust.pem").write_bytes(
            (out / "root.pem").read_bytes() + (out / "intermediate.pem").read_bytes()
        )
        assert _status(out, url) == ("good", True)

        request = urllib.request.Request(
            f"{url.rstrip('/')}{ADMIN_PREFIX}/revoke",
            data=json.dumps({"name": "server", "reason": "keyCompromise"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["status"] == "revoked"
        # Both workers must see it: ask several times (each may land on either).
        assert {_status(out, url) for _ in range(6)} == {("revoked", True)}
        # The exported CA database follows: `openssl ocsp -index` on out/ agrees with the lab.
        serial = x509.load_pem_x509_certificate((out / "server.pem").read_bytes()).serial_number
        rows = (out / "intermediate.index.txt").read_text().splitlines()
        (row,) = [r for r in rows if int(r.split("\t")[3], 16) == serial]
        assert row.startswith("R\t") and row.split("\t")[2].endswith(",keyCompromise")

        with urllib.request.urlopen(f"{url.rstrip('/')}{ADMIN_PREFIX}/", timeout=10) as page:
            html = page.read().decode()
        assert "server" in html and "PRIVATE KEY" not in html

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # graceful stop

    with _serving(out, port):
        assert _status(out, url) == ("revoked", True)  # state.json survived the restart
