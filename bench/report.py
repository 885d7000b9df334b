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

__all__ = ["Figure", "median_seconds", "write_results"]

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
