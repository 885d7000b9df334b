"""Wall time of ``ocsp-lab run`` over the catalog, and per scenario × mode.

The whole run is measured as a user sees it: a subprocess ``ocsp-lab run
scenarios/`` (interpreter start-up, loading, PKI, responder, validator,
report), median of 3. Per scenario × mode comes from the runner's own
in-process timing (PKI build and server start are counted once per scenario,
spread over its modes). Goal: the catalog under 10 s on this 2-core machine,
about 80 ms per scenario × mode.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Figure
from lab.runner import run_scenarios
from lab.scenario import load_scenarios

SECTION = "Catalog run (ocsp-lab run scenarios/)"
ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "scenarios"


def _wall(jobs: int) -> float:
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "lab", "run", str(CATALOG), "-j", str(jobs)],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run() -> list[Figure]:
    """Figures for bench/results.md."""
    scenarios = load_scenarios([CATALOG])
    results = run_scenarios(scenarios)
    per_mode = [r.seconds / max(1, len(r.modes)) for r in results for _ in r.modes]
    runs = len(per_mode)
    slowest = max(results, key=lambda r: r.seconds)
    held = sum(m.holds for r in results for m in r.modes)
    return [
        Figure(
            SECTION,
            f"`ocsp-lab run` wall time, {len(scenarios)} scenarios, -j 1 (median of 3)",
            f"{_wall(1):.2f} s",
            "< 10 s",
        ),
        Figure(SECTION, "same, -j 2 (median of 3)", f"{_wall(2):.2f} s", "< 10 s"),
        Figure(
            SECTION,
            f"per scenario × mode, median over {runs} (in-process)",
            f"{statistics.median(per_mode) * 1000:.0f} ms",
            "~80 ms",
        ),
        Figure(
            SECTION,
            "per scenario × mode, 90th percentile",
            f"{statistics.quantiles(per_mode, n=10)[-1] * 1000:.0f} ms",
            "",
            "real-time `delay` faults dominate the tail",
        ),
        Figure(
            SECTION,
            "slowest scenario",
            f"{slowest.seconds * 1000:.0f} ms",
            "",
            slowest.id,
        ),
        Figure(SECTION, "scenario × mode runs that hold", f"{held} / {runs}", "all"),
    ]
