"""``ocsp-lab run [PATH ...] --product PROFILE.toml [--timeline real]``: the CLI side.

``run`` selects the scenarios (paths, ``-k``) as always, then hands them
here: the profile is read (a bad one: one line naming the file, the key and
what was expected, exit 2), every scenario is compared, a line per scenario
as it finishes, then the table, the summary, and the JUnit / JSON reports
with both sides. Exit 0 when the product agrees with the model on every
scenario it could be set up for, 1 on a difference, 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from lab.errors import LabError, UsageError
from lab.product.compare import ProductScenarioResult
from lab.product.profile import load_profile
from lab.product.report import format_table, summary_line, write_json, write_junit
from lab.product.run import run_product
from lab.report import Palette
from lab.scenario import Scenario
from lab.timespec import format_duration
from pki import PKIError
from pki.secret import installation_secret

__all__ = ["TIMELINES", "run_product_command"]

#: What ``--timeline`` accepts: only the real clock (real products keep real time).
TIMELINES = ("real",)


class _Progress:
    """A line per scenario as it finishes, flushed at once."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, result: ProductScenarioResult) -> None:
        with self._lock:
            self.done += 1
            if result.skipped:
                words = f"skipped ({result.skipped})"
            elif result.error:
                words = f"FAIL: {result.error}"
            else:
                words = ", ".join(
                    f"{m.mode} {'agrees' if m.agrees else 'DIFFERS'}" for m in result.modes
                )
            width = len(str(self.total))
            print(
                f"[{self.done:>{width}}/{self.total}] {result.id}: {words} "
                f"({result.seconds:.2f} s)",
                flush=True,
            )


def run_product_command(
    args: argparse.Namespace, scenarios: Sequence[Scenario], bad: Sequence[LabError]
) -> int:
    """Run ``scenarios`` against ``args.product``; the exit code."""
    if args.cc is not None:
        raise UsageError(
            "--cc cannot be combined with --product: the profile's [client] common_criteria "
            "chooses the modes"
        )
    profile = load_profile(args.product)
    try:
        secret = installation_secret(args.secret_file)
    except PKIError as exc:
        raise UsageError(str(exc)) from None
    print(f"product: {profile.title} ({profile.kind.value}, {profile.path})", flush=True)
    print(f"trust: CAs and trusted responders from {secret.describe()}", flush=True)
    if args.timeline == "real":
        timelines = [s for s in scenarios if s.steps]
        if timelines:
            total = sum((s.steps[-1].at for s in timelines), dt.timedelta(0))
            print(
                f"ocsp-lab: note: {len(timelines)} timeline(s) on the real clock: "
                f"{format_duration(total)} of steps at least",
                file=sys.stderr,
                flush=True,
            )
    progress = _Progress(len(scenarios))
    started = time.perf_counter()
    results = run_product(
        scenarios,
        profile,
        timeline=args.timeline == "real",
        secret=secret,
        jobs=args.jobs,
        on_result=progress,
    )
    seconds = time.perf_counter() - started
    if results:
        print(format_table(results, Palette.for_stream(sys.stdout)))
    print(summary_line(results, seconds, bad=len(bad)), flush=True)
    for target, writer in ((args.junit, write_junit), (args.json, write_json)):
        if target is None:
            continue
        try:
            writer(results, seconds, Path(target), profile, bad=bad)
        except OSError as exc:
            raise UsageError(f"{target}: cannot write the report ({exc.strerror})") from None
    if bad:
        return 2
    return 0 if all(r.agrees for r in results) else 1
