"""TLS handshake plus OCSP check per connection: the reference product against a lab endpoint.

``ocsp-lab connect`` in process (``lab.cli.main``) against a
:class:`lab.tls.TlsEndpoint` presenting the default server certificate: the
TCP connect, the TLS 1.3 handshake, and during it one OCSP check of the leaf
and one of the intermediate (POST with a nonce to the lab responder on
127.0.0.1), then the endpoint's greeting — p50 and p99. Beside it, the same
with ``--stapling use`` (the endpoint's cached staple; nothing asked), and
the OpenSSL command line doing the same work as two processes:
``openssl s_client`` for the handshake, then ``openssl ocsp`` for the leaf.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.report import Figure, cli_milliseconds, percentile
from bench.responder_load import _free_port
from lab.tls import StapleSource, TlsEndpoint
from pki import CertificateDatabase, build_pki, calendar_t0, write_pki
from responder.app import create_app
from responder.server import InProcessServer

__all__ = ["run"]

SECTION = "TLS handshake with OCSP (connect)"
CONNECTIONS = 100
OPENSSL_RUNS = 10


def run() -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-tls-"))
    now = dt.datetime.now(dt.UTC)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    pki = build_pki(base_url=url, t0=calendar_t0(now))
    server = InProcessServer(create_app(pki), port=port)
    server.start()
    d = work / "pki"
    write_pki(pki, CertificateDatabase.from_pki(pki), d, now=now)
    leaf, intermediate = pki["server"].certificate, pki["intermediate"].certificate
    staple = StapleSource(leaf, intermediate, now=lambda: dt.datetime.now(dt.UTC))
    try:
        with TlsEndpoint(
            leaf, pki["server"].private_key, [intermediate], staple=staple, idle_timeout=0.2
        ) as endpoint:
            base = ["connect", f"127.0.0.1:{endpoint.port}", "--trust", str(d / "root.pem")]
            asking = cli_milliseconds([*base, "--json"], CONNECTIONS)
            stapled = cli_milliseconds(
                [*base, "--stapling", "use", "--check", "leaf", "--json"], CONNECTIONS
            )
            openssl = []
            for _ in range(OPENSSL_RUNS):
                start = time.perf_counter()
                subprocess.run(
                    ["openssl", "s_client", "-connect", f"127.0.0.1:{endpoint.port}",
                     "-CAfile", str(d / "root.pem"), "-servername", "localhost"],
                    input=b"", check=True, capture_output=True,
                )  # fmt: skip
                subprocess.run(
                    ["openssl", "ocsp", "-issuer", str(d / "intermediate.pem"),
                     "-cert", str(d / "server.pem"), "-url", url, "-CAfile", str(d / "root.pem")],
                    check=True, capture_output=True,
                )  # fmt: skip
                openssl.append((time.perf_counter() - start) * 1000)
    finally:
        server.stop()
    return [
        Figure(SECTION, "connect: handshake + OCSP of leaf and intermediate, p50",
               f"{statistics.median(asking):.1f} ms", "",
               f"p99 {percentile(asking, 0.99):.1f} ms over {CONNECTIONS}; TLS 1.3, EC P-256, "
               "POST with nonce, in process, endpoint and responder on 127.0.0.1"),
        Figure(SECTION, "connect --stapling use --check leaf (the staple; nothing asked), p50",
               f"{statistics.median(stapled):.1f} ms", "",
               f"p99 {percentile(stapled, 0.99):.1f} ms over {CONNECTIONS}"),
        Figure(SECTION, "openssl s_client, then openssl ocsp on the leaf (median)",
               f"{statistics.median(openssl):.0f} ms", "",
               f"two processes per connection, {OPENSSL_RUNS} runs; process start-up included"),
    ]  # fmt: skip
