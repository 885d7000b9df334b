"""A product run (``ocsp-lab run --product``): the lab's overhead, and the catalog vs gnutls-cli.

The lab's overhead per scenario is everything a product run spends besides
the product's own time (its process, from start to exit): the model, the
product's PKI and responder, the TLS endpoint, reading the request log and
waiting for the connection's record. Measured over the catalog against
gnutls-cli (a fast client: its own time is its start-up and one handshake),
with ``-j 1`` so no scenario waits for another. Goal: under 50 ms.
Also the whole catalog's wall time against gnutls-cli, and how many
comparisons agree (its deviations: products/gnutls-cli.toml).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from pathlib import Path

from bench.report import Figure, percentile
from lab.product.profile import load_profile
from lab.product.run import run_product
from lab.scenario import load_scenarios

SECTION = "Product run (ocsp-lab run --product)"
ROOT = Path(__file__).resolve().parent.parent


def run() -> list[Figure]:
    """Figures for bench/results.md."""
    if shutil.which("gnutls-cli") is None:
        return [Figure(SECTION, "gnutls-cli", "not installed", "", "apt-get install gnutls-bin")]
    scenarios = load_scenarios([ROOT / "scenarios"])
    profile = load_profile(ROOT / "products/gnutls-cli.toml")
    started = time.perf_counter()
    results = run_product(scenarios, profile, jobs=1)
    wall = time.perf_counter() - started
    ran = [r for r in results if r.modes]
    overhead = [r.lab_seconds * 1000 for r in ran]
    product = [r.product_seconds * 1000 for r in ran]
    comparisons = [c for r in ran for m in r.modes for c in m.comparisons]
    agree = sum(c.agrees for c in comparisons)
    differ = sorted(r.id for r in ran if not r.agrees)
    load = os.getloadavg()[0]
    return [
        Figure(
            SECTION,
            f"lab overhead per scenario, median over {len(ran)} (product's time excluded)",
            f"{statistics.median(overhead):.1f} ms",
            "< 50 ms",
            "model + PKI + responder + endpoint + observation",
        ),
        Figure(
            SECTION,
            "lab overhead per scenario, 90th percentile",
            f"{percentile(overhead, 0.9):.1f} ms",
            "",
            "real-time delays (transport/*) and RSA PKIs (keys/rsa-*) make the tail",
        ),
        Figure(
            SECTION,
            "gnutls-cli's own time per scenario, median",
            f"{statistics.median(product):.0f} ms",
        ),
        Figure(
            SECTION,
            f"whole catalog vs gnutls-cli, {len(scenarios)} scenarios, -j 1",
            f"{wall:.1f} s",
            "",
            f"{len(results) - len(ran)} skipped with a reason; load average {load:.1f} at the end",
        ),
        Figure(
            SECTION,
            "comparisons that agree with the model (Common Criteria ON)",
            f"{agree} / {len(comparisons)}",
            "",
            f"{len(differ)} scenarios differ, as products/gnutls-cli.toml lists",
        ),
    ]
