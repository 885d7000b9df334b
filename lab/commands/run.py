"""``ocsp-lab run [PATH ...] [-k EXPR] [--junit FILE] [--json FILE] [-j N]``: run scenarios.

Default ``scenarios/`` (relative to the current directory); PATH may be files
or folders anywhere (ids relative to the folder given). A live line per
scenario on a terminal, then a table: scenario, mode, result, and for
failures what differed. Exit 0 when every expectation holds, 1 when one does
not, 2 for a bad file (the loader's message naming file, key and what was
expected) or bad usage.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from lab.errors import UsageError

__all__ = ["register", "run"]


class _Progress:
    """One live line on a terminal: ``[12/130] dtm/revoked``; silent otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()

    def result(self, result: Any) -> None:
        with self._lock:
            self.done += 1
            self.failed += not result.holds
            if not self.live:
                return
            mark = "ok" if result.holds else "FAIL"
            failed = f", {self.failed} failed" if self.failed else ""
            line = f"[{self.done}/{self.total}{failed}] {result.id} {mark}"
            self.stream.write("\r\033[K" + line[:200])
            self.stream.flush()

    def finish(self) -> None:
        if self.live and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from lab.report import Palette, format_table, summary_line, write_json, write_junit
    from lab.runner import run_scenarios
    from lab.scenario import load_scenarios
    from lab.selection import keyword_filter

    if args.jobs < 1:
        raise UsageError(f"-j {args.jobs}: expected a number of threads of 1 or more")
    scenarios = load_scenarios(args.paths or ["scenarios"])
    if args.keyword is not None:
        chosen = keyword_filter(args.keyword)
        scenarios = [s for s in scenarios if chosen(s)]
    if not scenarios:
        raise UsageError(
            "no scenario to run" + (f" matches -k {args.keyword!r}" if args.keyword else "")
        )
    progress = _Progress(len(scenarios), sys.stderr)
    started = time.perf_counter()
    try:
        results = run_scenarios(scenarios, jobs=args.jobs, on_result=progress.result)
    finally:
        progress.finish()
    seconds = time.perf_counter() - started
    print(format_table(results, Palette.for_stream(sys.stdout)))
    print(summary_line(results, seconds))
    for target, writer in ((args.junit, write_junit), (args.json, write_json)):
        if target is None:
            continue
        try:
            writer(results, seconds, Path(target))
        except OSError as exc:
            raise UsageError(f"{target}: cannot write the report ({exc.strerror})") from None
    return 0 if all(r.holds for r in results) else 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run scenarios (default: scenarios/)",
        description="Run scenario files: each in Common Criteria ON and OFF unless it fixes "
        "one. Exit 0 when every expectation holds, 1 when one does not, 2 for a bad file.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="scenario files or folders (default: scenarios/)"
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="only scenarios whose id, title or tags match, e.g. 'trp and not revoked'",
    )
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--json", metavar="FILE", help="write a JSON report with full evidence")
    parser.add_argument(
        "-j", dest="jobs", type=int, default=1, metavar="N", help="run N scenarios at a time"
    )
    parser.set_defaults(handler=run)
