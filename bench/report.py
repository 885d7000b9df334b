"""One table row per figure, appended to bench/results.md with machine, date and command."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "cli_milliseconds", "median_seconds", "percentile", "write_results"]

RESULTS = Path(__file__).with_name("results.md")


@dataclass(frozen=True)
class Figure:
    section: str
    what: str
    value: str
    goal: str = ""
    note: str = ""


def median_seconds(action: Callable[[], object], *, runs: int = 7) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cli_milliseconds(argv: list[str], runs: int) -> list[float]:
    """``ocsp-lab ARGV`` run ``runs`` times in this process: each run's wall time, in ms.

    Its output is kept from the terminal; a run that does not exit 0 stops the
    bench with that output (a figure of failing runs would mean nothing).
    """
    import contextlib
    import io

    from lab.cli import main

    samples = []
    for _ in range(runs):
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = main(argv)
        samples.append((time.perf_counter() - start) * 1000)
        if code != 0:
            raise RuntimeError(f"ocsp-lab {' '.join(argv)} exited {code}:\n{out.getvalue()}")
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` of the sorted samples (0.5: the median, 0.99: p99)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def machine() -> str:
    python = platform.python_version()
    return f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()}, Python {python})"


def _kept_sections(rerun: set[str]) -> list[str]:
    """Sections of the existing results.md that this run does not measure again."""
    if not RESULTS.exists():
        return []
    kept: list[str] = []
    current: list[str] = []
    keep = False
    for line in RESULTS.read_text().splitlines():
        if line.startswith("## "):
            if keep:
                kept.extend(current)
            current, keep = [], line[3:].strip() not in rerun
        if current or line.startswith("## "):
            current.append(line)
    if keep:
        kept.extend(current)
    return kept


def write_results(figures: list[Figure], command: str) -> Path:
    """Write bench/results.md: these figures, plus earlier sections not measured again.

    Every section carries the machine, date and command it was measured with.
    """
    stamp = f"_{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {machine()}, `{command}`_"
    sections = list(dict.fromkeys(f.section for f in figures))
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench`; each section says when and where.",
        "",
    ]
    for section in sections:
        lines += [
            f"## {section}",
            "",
            stamp,
            "",
            "| what | figure | goal | note |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {f.what} | {f.value} | {f.goal} | {f.note} |"
            for f in figures
            if f.section == section
        ]
        lines.append("")
    lines += _kept_sections(set(sections))
    RESULTS.write_text("\n".join(lines).rstrip() + "\n")
    return RESULTS
