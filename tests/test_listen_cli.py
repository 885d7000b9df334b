"""``ocsp-lab listen``: the reference product as a TLS server checking client certificates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.tls import Alert, HandshakeOutcome, tls_connect

pytestmark = pytest.mark.interop


@contextmanager
def _listen(lab: LabFiles, *options: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "listen", "--cert", str(lab.cert_path("server")),
         "--key", str(lab.key_path("server")), "--chain", str(lab.cert_path("intermediate")),
         "--trust", str(lab.cert_path("root")), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first + proc.stderr.read()
        yield proc, int(first.rsplit(":", 1)[1])
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.parametrize(("revoked", "code"), [(False, 0), (True, 1)], ids=["good", "revoked"])
def test_listen_checks_the_client_certificate_during_the_handshake(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, revoked: bool, code: int
) -> None:
    if revoked:
        ocsp_responder.revoke("server", "keyCompromise")
    with _listen(ocsp_pki, "--count", "1", "--json") as (proc, port):
        client = tls_connect(
            "127.0.0.1",
            port,
            certificate=ocsp_pki.certificate("server"),
            private_key=ocsp_pki.pki["server"].private_key,
            chain=[ocsp_pki.certificate("intermediate")],
        )
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    (line,) = out.splitlines()
    report = json.loads(line)
    evidence = report["check"]["checks"][0]["evidence"]
    assert evidence["status"] == ("revoked" if revoked else "good")
    assert report["connection"]["peer_certificate"] == "CN=server,O=ocsp-lab"
    if revoked:
        assert report["connection"]["outcome"] == "local-alert"
        assert report["connection"]["alert"] == "certificate_revoked"
        # TLS 1.3: the client learns of the refusal at its first read (RFC 8446 4.4.2.4).
        assert client.record.outcome is HandshakeOutcome.PEER_ALERT
        assert client.record.alert is Alert.CERTIFICATE_REVOKED
    else:
        assert report["allowed"] is True
        assert client.record.completed and client.greeting == b"ocsp-lab: hello\n"


def test_listen_refuses_a_client_without_a_certificate(ocsp_pki: LabFiles) -> None:
    with _listen(ocsp_pki, "--count", "1") as (proc, port):
        client = tls_connect("127.0.0.1", port)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "certificate_required" in out and out.rstrip().endswith("outcome refused")
    assert client.record.outcome is HandshakeOutcome.PEER_ALERT


def test_listen_with_a_bad_key_file_is_one_line_and_exit_2(
    ocsp_pki: LabFiles,
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "listen", "--cert", str(ocsp_pki.cert_path("server")),
         "--key", str(ocsp_pki.cert_path("server"))],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert proc.returncode == 2
    assert (
        proc.stderr.count("\n") == 1
        and "expected an unencrypted PEM or DER private key" in proc.stderr
    )


def test_connect_with_a_client_certificate_meets_listen(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle
) -> None:
    # Both ends the reference product: connect judges the server (good), listen the client
    # certificate connect presents (revoked).
    ocsp_responder.revoke("responder", "keyCompromise")
    with _listen(ocsp_pki, "--count", "1", "--json") as (proc, port):
        connect = subprocess.run(
            [sys.executable, "-m", "lab", "connect", f"127.0.0.1:{port}",
             "--trust", str(ocsp_pki.cert_path("root")),
             "--cert", str(ocsp_pki.cert_path("responder")),
             "--key", str(ocsp_pki.key_path("responder")),
             "--chain", str(ocsp_pki.cert_path("intermediate")), "--json"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        out, _ = proc.communicate(timeout=20)
    report = json.loads(connect.stdout)
    assert report["check"]["checks"][0]["evidence"]["status"] == "good"  # the server's
    # listen refused the client certificate after connect's side of the TLS 1.3 handshake.
    assert connect.returncode == 1
    assert report["connection"]["outcome"] == "peer-alert"
    assert report["connection"]["alert"] == "certificate_revoked"
    listened = json.loads(out)
    assert listened["connection"]["outcome"] == "local-alert"
    assert listened["connection"]["alert"] == "certificate_revoked"
    assert listened["connection"]["peer_certificate"] == "CN=responder,O=ocsp-lab"
    assert listened["check"]["checks"][0]["evidence"]["status"] == "revoked"


def test_listen_refuses_a_client_whose_issuer_it_cannot_find_with_unknown_ca(
    ocsp_pki: LabFiles,
) -> None:
    with _listen(ocsp_pki, "--count", "1") as (proc, port):
        client = tls_connect(  # no chain: the intermediate is neither presented nor trusted
            "127.0.0.1",
            port,
            certificate=ocsp_pki.certificate("responder"),
            private_key=ocsp_pki.pki["responder"].private_key,
        )
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 1
    assert "local-alert (48 unknown_ca)" in out
    assert "neither presented nor in the trust store" in out
    assert client.record.alert is Alert.UNKNOWN_CA


def test_connect_needs_cert_and_key_together(ocsp_pki: LabFiles) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "connect", "127.0.0.1:1",
         "--cert", str(ocsp_pki.cert_path("server"))],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert proc.returncode == 2 and "--cert and --key go together" in proc.stderr
