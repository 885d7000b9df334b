"""``ocsp-lab check`` of one certificate against a responder on loopback, end to end.

In process: ``lab.cli.main(["check", …])`` — read the PEM files, build the
request (with a nonce), POST it to the lab's responder on 127.0.0.1, judge
the answer (DTM) and print the evidence — the median of many checks. Also
the same command as a new process (Python's start-up included), for scale.

Goal (issue 10): under 50 ms end to end.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, cli_milliseconds
from bench.responder_load import _free_port
from pki import CertificateDatabase, build_pki, calendar_t0, write_pki
from responder.app import create_app
from responder.server import InProcessServer

__all__ = ["run"]

SECTION = "check end to end"
CHECKS = 60


def run() -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-check-"))
    now = dt.datetime.now(dt.UTC)
    port = _free_port()
    pki = build_pki(base_url=f"http://127.0.0.1:{port}/", t0=calendar_t0(now))
    server = InProcessServer(create_app(pki), port=port)
    server.start()
    try:
        write_pki(pki, CertificateDatabase.from_pki(pki), work / "pki", now=now)
        d = work / "pki"
        argv = ["check", str(d / "server.pem"), "--issuer", str(d / "intermediate.pem"),
                "--trust", str(d / "root.pem"), "--cc", "on", "--json"]  # fmt: skip
        samples = cli_milliseconds(argv, CHECKS)
        samples.sort()
        process = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "lab", *argv], check=True, capture_output=True)
            process.append((time.perf_counter() - start) * 1000)
    finally:
        server.stop()
    return [
        Figure(SECTION, "check one certificate, in process (median)",
               f"{statistics.median(samples):.1f} ms", "< 50 ms",
               f"p90 {samples[int(len(samples) * 0.9)]:.1f} ms over {CHECKS}; EC P-256, POST, "
               "nonce, DTM, the lab responder in-process on 127.0.0.1"),
        Figure(SECTION, "same, as a new process (median of 5)",
               f"{statistics.median(process):.0f} ms", "",
               "Python start-up and imports included"),
    ]  # fmt: skip
