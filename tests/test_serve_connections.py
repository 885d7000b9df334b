"""``serve`` bounds every wait: silent, half-sent and body-less clients are closed (issue 11)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from responder.gunicorn_worker import HEADER_TIMEOUT_S
from tests.test_serve import _free_port, _wait_listening

pytestmark = pytest.mark.interop

_PROBES = {
    "silent": b"",
    "half-sent headers": b"POST / HTTP/1.1\r\nHost: localhost\r\n",
    "body never finished": (
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\n"
        b"Content-Length: 100\r\n\r\n0\x10"
    ),
}


def _probe(port: int, payload: bytes, found: dict[bytes, tuple[float, bytes]]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(HEADER_TIMEOUT_S + 20)
        started = time.monotonic()
        if payload:
            sock.sendall(payload)
        try:
            data = sock.recv(200)
        except OSError as exc:
            data = repr(exc).encode()
        found[payload] = (time.monotonic() - started, data)


def test_clients_that_stall_are_closed_in_bounded_time_and_others_are_served(
    tmp_path: Path,
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(tmp_path / "o"),
         "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        found: dict[bytes, tuple[float, bytes]] = {}
        threads = [
            threading.Thread(target=_probe, args=(port, payload, found))
            for payload in _PROBES.values()
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        # Meanwhile the single worker answers another client at once.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as other:
            other.sendall(
                b"GET /~admin/state HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            assert other.recv(12) == b"HTTP/1.1 200"
        for thread in threads:
            thread.join(timeout=HEADER_TIMEOUT_S + 30)
        for name, payload in _PROBES.items():
            elapsed, data = found[payload]
            assert elapsed < HEADER_TIMEOUT_S + 5, (name, elapsed)
            if name == "body never finished":
                assert data.startswith(b"HTTP/1.1 408"), data
            else:
                assert data == b"", (name, data)  # closed, with nothing said
    finally:
        proc.kill()
        proc.wait(timeout=10)
