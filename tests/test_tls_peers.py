"""Real TLS peers against the lab's endpoint: gnutls-cli --ocsp and openssl s_client -status.

What each peer prints is parsed, and set beside what the endpoint recorded.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.x509 import ocsp

from lab.pytest_plugin import LabFiles, LabResponderHandle
from lab.tls import HandshakeOutcome, StapleSource, TlsEndpoint, tls_connect
from tests.conftest import require_program

pytestmark = pytest.mark.interop


def _endpoint(ocsp_pki: LabFiles, *, staple: bool) -> TlsEndpoint:
    pki = ocsp_pki.pki
    source = StapleSource(
        pki["server"].certificate,
        pki["intermediate"].certificate,
        now=lambda: dt.datetime.now(dt.UTC),
    )
    return TlsEndpoint(
        pki["server"].certificate,
        pki["server"].private_key,
        [pki["intermediate"].certificate],
        staple=source if staple else None,
        handshake_timeout=5.0,
        idle_timeout=1.0,
    )


@pytest.fixture
def endpoint(ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle) -> Iterator[TlsEndpoint]:
    with _endpoint(ocsp_pki, staple=True) as served:
        yield served


_GNUTLS_COMPLETED = re.compile(r"^- Handshake was completed$", re.M)
# Asked itself (no staple): "*** Certificate was revoked at …"; judged a staple:
# "- Status: The certificate is NOT trusted. The certificate chain is revoked."
_GNUTLS_REVOKED = re.compile(
    r"^(\*\*\* Certificate was revoked at |- Status: .*certificate chain is revoked)", re.M
)
_GNUTLS_FAILED = re.compile(
    r"^\*\*\* (Verifying \(with OCSP\) server|PKI verification of server) certificate.* failed",
    re.M,
)


@pytest.mark.parametrize("stapled", [False, True], ids=["asks", "stapled"])
@pytest.mark.parametrize("state", ["good", "revoked", "unknown"])
def test_gnutls_cli_ocsp_and_the_endpoint_agree(
    ocsp_pki: LabFiles, ocsp_responder: LabResponderHandle, state: str, stapled: bool
) -> None:
    gnutls = require_program("gnutls-cli")
    if state == "revoked":
        ocsp_responder.revoke("server", "keyCompromise")
    elif state == "unknown":
        ocsp_responder.set_faults(answer="unknown")
    with _endpoint(ocsp_pki, staple=stapled) as endpoint:
        proc = subprocess.run(
        [gnutls, "--ocsp", "--x509cafile", str(ocsp_pki.cert_path("root")),
         "-p", str(endpoint.port), "localhost"],
        input=b"hello\n", capture_output=True, timeout=30,
    )  # fmt: skip
        (record,) = endpoint.wait_for(1)
    out = proc.stdout.decode() + proc.stderr.decode()
    if _GNUTLS_COMPLETED.search(out):
        # gnutls-cli asked the responder and went on: the endpoint saw data flow.
        assert record.outcome is HandshakeOutcome.COMPLETED, record.describe()
        assert "ocsp-lab: hello" in out
    else:
        assert _GNUTLS_FAILED.search(out), out
        assert record.outcome is HandshakeOutcome.PEER_ALERT, record.describe()
        assert record.alert is not None
    # GnuTLS refuses only revoked: it takes a signed unknown as not revoked.
    assert bool(_GNUTLS_REVOKED.search(out)) is (state == "revoked"), out
    assert record.completed is (state != "revoked")
    # --ocsp sends status_request (seen where the endpoint staples).
    assert record.staple_requested is stapled
    assert bool(record.stapled) is stapled
    asked = [e for e in ocsp_responder.requests() if "server" in e.names]
    assert asked and asked[0].answer == state


def test_openssl_s_client_status_shows_the_staple_and_openssl_ocsp_verifies_it(
    endpoint: TlsEndpoint, ocsp_pki: LabFiles, tmp_path: Path
) -> None:
    proc = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{endpoint.port}", "-status",
         "-CAfile", str(ocsp_pki.cert_path("root")), "-servername", "localhost"],
        input=b"", capture_output=True, timeout=30,
    )  # fmt: skip
    out = proc.stdout.decode()
    assert "OCSP Response Status: successful (0x0)" in out, out
    assert re.search(r"Cert Status: good", out), out
    serial = format(ocsp_pki.certificate("server").serial_number, "X")
    assert re.search(rf"Serial Number: 0*{serial}", out, re.I), out
    assert "Verify return code: 0 (ok)" in out
    (record,) = endpoint.wait_for(1)
    assert record.staple_requested and record.stapled
    # The same staple, taken by the lab's client, verified by openssl ocsp -respin.
    staple = tls_connect("127.0.0.1", endpoint.port).staple
    assert staple is not None and ocsp.load_der_ocsp_response(staple).serial_number
    (tmp_path / "staple.der").write_bytes(staple)
    verify = subprocess.run(
        ["openssl", "ocsp", "-respin", "staple.der",
         "-issuer", str(ocsp_pki.cert_path("intermediate")),
         "-cert", str(ocsp_pki.cert_path("server")), "-CAfile", str(ocsp_pki.cert_path("root"))],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "Response verify OK" in verify.stderr + verify.stdout, verify.stderr
    assert re.search(r"^\S+server\.pem: good$", verify.stdout, re.M), verify.stdout
