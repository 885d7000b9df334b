"""The catalog over real TLS (``ocsp-lab run --tls``) beside the direct run, in one bench.

Both runs are measured as a user sees them — a subprocess ``ocsp-lab run
scenarios/`` with and without ``--tls`` — interleaved (direct, tls, direct,
tls …) so that a machine busy at one moment weighs on both alike; median of
3 each. Goal (issue 12): ``run --tls`` within 2× the direct run. The TLS run's
JSON report gives how many real handshakes it made and how they ended.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.report import Figure

__all__ = ["run"]

SECTION = "Catalog over TLS (ocsp-lab run --tls)"
ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "scenarios"
RUNS = 3


def _once(extra: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", str(CATALOG), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:  # a figure of a failing run would mean nothing
        command = " ".join(["ocsp-lab run", *extra])
        raise RuntimeError(f"{command} exited {done.returncode}:\n{done.stdout}")
    return seconds


def _handshakes(report: dict[str, Any]) -> Counter[str]:
    """How each connection of the TLS run ended, as the endpoint saw it."""
    ended: Counter[str] = Counter()
    for scenario in report["scenarios"]:
        for mode in scenario["modes"]:
            for expectation in mode["expectations"]:
                tls = expectation["actual"]["tls"]
                if tls is not None and expectation["label"].startswith("expect["):
                    ended[tls["alert"] or tls["outcome"]] += 1
            for event in mode["events"]:
                tls = event["tls"]
                if tls is not None and event["what"].startswith("connect "):
                    ended[tls["alert"] or "held open"] += 1  # a timeline connection
    return ended


def run() -> list[Figure]:
    """Figures for bench/results.md."""
    direct: list[float] = []
    tls: list[float] = []
    report = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-tls-run-")) / "run.json"
    for index in range(RUNS):
        direct.append(_once([]))
        tls.append(_once(["--tls", "--json", str(report)] if index == 0 else ["--tls"]))
    data = json.loads(report.read_text())
    scenarios = len(data["scenarios"])
    ended = _handshakes(data)
    plain, over_tls = statistics.median(direct), statistics.median(tls)
    how = ", ".join(f"{count} {what}" for what, count in ended.most_common())
    return [
        Figure(
            SECTION,
            f"`ocsp-lab run`, {scenarios} scenarios, -j 1 (median of {RUNS})",
            f"{plain:.2f} s",
            "",
            "direct calls of the validator",
        ),
        Figure(
            SECTION,
            f"`ocsp-lab run --tls`, same catalog (median of {RUNS}, interleaved)",
            f"{over_tls:.2f} s",
            "",
            f"{sum(ended.values())} real TLS 1.3 handshakes on loopback: {how}",
        ),
        Figure(SECTION, "`run --tls` ÷ `run`", f"{over_tls / plain:.2f}×", "≤ 2×"),
        Figure(
            SECTION,
            "what TLS adds per connection",
            f"{(over_tls - plain) / max(1, sum(ended.values())) * 1000:.1f} ms",
            "",
            "the difference of the medians over the handshakes made: endpoint, handshake, "
            "its thread, the greeting, the close",
        ),
    ]
