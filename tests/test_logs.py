"""The responder's logs: admin actions, ``--log-format json``, and a quiet ``down`` under serve."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pki import PKI, build_pki
from responder.app import ADMIN_PREFIX, create_app
from responder.logs import configure
from responder.server import InProcessServer
from responder.testing import ocsp_request


@pytest.fixture
def served() -> Iterator[tuple[PKI, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pki = build_pki(base_url=f"http://127.0.0.1:{port}/")
    with InProcessServer(create_app(pki), port=port) as server:
        yield pki, server.url


def _post(url: str, data: bytes, content_type: str) -> bytes:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return bytes(answer.read())


def _admin(url: str, path: str, document: dict[str, object], method: str = "POST") -> None:
    request = urllib.request.Request(
        url.rstrip("/") + ADMIN_PREFIX + path,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_json_log_has_one_object_per_line_for_requests_and_admin_actions(
    served: tuple[PKI, str],
) -> None:
    pki, url = served
    stream = io.StringIO()
    handler = configure("json", stream=stream)
    try:
        _post(url, ocsp_request(pki, ["server"]), "application/ocsp-request")
        _admin(url, "/revoke", {"name": "server", "reason": "keyCompromise"})
        _admin(url, "/faults", {"delay": "10ms"}, method="PUT")
        _admin(url, "/faults", {}, method="DELETE")
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [r for r in records if r["logger"] == "responder.requests"]
    assert requests[0]["request"]["serials"] == [format(pki["server"].serial, "X")]
    assert requests[0]["request"]["answer"] == "good" and requests[0]["level"] == "INFO"
    admin = [r["admin"] for r in records if r["logger"] == "responder.admin"]
    assert admin == [
        {
            "action": "revoke",
            "client": "127.0.0.1",
            "name": "server",
            "reason": "keyCompromise",
            "status": "revoked",
        },
        {"action": "faults", "client": "127.0.0.1", "faults": {"delay": "10ms"}},
        {"action": "faults", "client": "127.0.0.1", "faults": {}},
    ]


def test_text_log_says_each_admin_action(served: tuple[PKI, str]) -> None:
    _, url = served
    stream = io.StringIO()
    handler = configure("text", stream=stream)
    try:
        _admin(url, "/hold", {"name": "server"})
        _admin(url, "/release", {"name": "server"})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "admin hold name=server status=hold (from 127.0.0.1)",
        "admin release name=server status=good (from 127.0.0.1)",
    ]


def test_configure_twice_does_not_double_lines() -> None:
    stream = io.StringIO()
    configure("text", stream=stream)
    handler = configure("json", stream=stream)
    try:
        logging.getLogger("responder.admin").info("once")
    finally:
        logging.getLogger().removeHandler(handler)
    assert len(stream.getvalue().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.interop
def test_serve_down_logs_dropped_not_an_error_per_connection(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(tmp_path),
         "--workers", "1", "--log-format", "json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/"
        _admin(url, "/faults", {"down": True}, method="PUT")
        for _ in range(3):
            with pytest.raises(OSError):  # the connection ends without a byte
                _post(url, b"x", "application/ocsp-request")
        _admin(url, "/faults", {}, method="DELETE")  # logged after the three drops
    finally:
        deadline = time.monotonic() + 10
        proc.terminate()
        _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    lines = [line for line in err.splitlines() if line.strip()]
    assert not [line for line in lines if "[ERROR]" in line]  # gunicorn's, one per drop
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    answers = [r["request"]["answer"] for r in records if r["logger"] == "responder.requests"]
    assert answers == ["dropped"] * 3
    assert [r["admin"]["faults"] for r in records if r["logger"] == "responder.admin"] == [
        {"down": True},
        {},
    ]
    assert not [r for r in records if r["level"] == "ERROR"]
