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
    return f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()})"


def write_results(figures: list[Figure], command: str) -> Path:
    """Replace bench/results.md with these figures (each section keeps its own table)."""
    lines = [
        "# Benchmark results",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        "",
    ]
    for section in dict.fromkeys(f.section for f in figures):
        lines += [f"## {section}", "", "| what | figure | goal | note |", "|---|---|---|---|"]
        lines += [
            f"| {f.what} | {f.value} | {f.goal} | {f.note} |" for f in figures if f.section == section
        ]
        lines.append("")
    RESULTS.write_text("\n".join(lines))
    return RESULTS
