"""``ocsp-lab run [PATH ...] [-k EXPR] [--cc on|off] [--tls] [--junit FILE] [--json FILE] [-j N]``.

With no PATH: ``scenarios/`` of the current directory when there is one (a
checkout runs its own catalog), else the catalog installed with the package
(``lab.catalog``). PATH may be files or folders anywhere (ids relative to the
folder given); files in a folder without the ``.toml`` extension are skipped
with a note.

A line per scenario as it finishes — flushed at once, so a CI log reading a
pipe sees it then; on a terminal it is one live line instead — then a table:
scenario, mode, result, and for failures what differed. A bad file does not
stop the run: every mistake of it is written to stderr before the run, it is
an error testcase in JUnit, and the exit code is 2 at the end. Otherwise exit
0 when every expectation holds, 1 when one does not; 2 for bad usage.
``--tls`` makes every connection a real TLS handshake on loopback
(:mod:`lab.tls_session`) instead of a direct call.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from lab.commands.pki_build import add_secret_option
from lab.errors import UsageError

if TYPE_CHECKING:
    from lab.runner import ScenarioResult
    from lab.scenario import Scenario

__all__ = ["default_paths", "installed_catalog", "register", "run"]

#: What ``--cc`` accepts, and the Common Criteria mode each one runs.
CC_MODES = {"on": True, "off": False}


def installed_catalog() -> Path | None:
    """The scenario catalog that came with the package, or None when there is none.

    A wheel carries it as the data package ``lab.catalog`` (``lab/catalog/``
    beside this package's modules); an editable install from a checkout has
    the checkout's ``scenarios/`` beside ``lab/`` instead.
    """
    package = Path(__file__).resolve().parents[1]  # lab/
    for candidate in (package / "catalog", package.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    return None


def default_paths() -> list[Path]:
    """``scenarios/`` of the current directory, else the installed catalog."""
    here = Path("scenarios")
    if here.is_dir():
        return [here]
    installed = installed_catalog()
    if installed is None:
        raise UsageError(
            "scenarios: no such scenario folder here, and no catalog installed with ocsp-lab "
            "(give a PATH)"
        )
    return [installed]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class _Progress:
    """A line per scenario as it finishes; on a terminal one live line that is rewritten.

    Off a terminal (a CI log, ``| cat``) each line ends in a newline and is
    flushed at once: no carriage returns or escape sequences there.
    """

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()

    def result(self, result: ScenarioResult) -> None:
        with self._lock:
            self.done += 1
            self.failed += not result.holds
            if result.error:
                modes = f"could not set up: {result.error}"
            else:
                modes = ", ".join(f"{m.mode} {'ok' if m.holds else 'FAIL'}" for m in result.modes)
            if self.live:
                failed = f", {self.failed} failed" if self.failed else ""
                line = f"[{self.done}/{self.total}{failed}] {result.id} {modes}"
                width = shutil.get_terminal_size().columns - 1
                self.stream.write("\r\033[K" + line[:width])
            else:
                width = len(str(self.total))
                self.stream.write(
                    f"[{self.done:>{width}}/{self.total}] {result.id}: {modes} "
                    f"({result.seconds:.2f} s)\n"
                )
            self.stream.flush()

    def finish(self) -> None:
        if self.live and self.done:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _one_mode(scenarios: Sequence[Scenario], cc: str) -> tuple[list[Scenario], int]:
    """The scenarios that run in mode ``cc``, fixed to it; how many fix the other mode."""
    cc_on = CC_MODES[cc]
    chosen = [
        dataclasses.replace(s, client=dataclasses.replace(s.client, common_criteria=cc_on))
        for s in scenarios
        if cc_on in s.client.modes()
    ]
    return chosen, len(scenarios) - len(chosen)


def _note(text: str) -> None:
    print(f"ocsp-lab: note: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from lab.report import Palette, format_table, summary_line, write_json, write_junit
    from lab.runner import Transport, run_scenarios
    from lab.scenario import read_scenarios
    from lab.selection import keyword_filter

    if args.jobs < 1:
        raise UsageError(f"-j {args.jobs}: expected a number of threads of 1 or more")
    if args.secret_file is not None and args.product is None:
        raise UsageError("--secret-file goes with --product (scenario runs use the public secret)")
    if args.timeline is not None and args.product is None:
        raise UsageError("--timeline real goes with --product (a product keeps real time)")
    chosen = keyword_filter(args.keyword) if args.keyword is not None else None
    catalog = read_scenarios(args.paths or default_paths())
    for path, why in catalog.skipped:
        _note(f"{path}: skipped ({why})")
    for problem in catalog.bad:
        for line in problem.lines:
            print(f"ocsp-lab: error: {line}", file=sys.stderr, flush=True)
    scenarios = list(catalog.scenarios)
    if chosen is not None:
        scenarios = [s for s in scenarios if chosen(s)]
    if args.cc is not None:
        scenarios, other = _one_mode(scenarios, args.cc)
        if other:
            fixed = "off" if args.cc == "on" else "on"
            _note(f"{_plural(other, 'scenario')} fixing Common Criteria {fixed}: not run")
    if not scenarios and not catalog.bad:
        raise UsageError(
            "no scenario to run" + (f" matches -k {args.keyword!r}" if args.keyword else "")
        )
    if args.product is not None:  # issue 13: the scenarios against a product (lab.product)
        from lab.product.command import run_product_command

        return run_product_command(args, scenarios, catalog.bad)
    progress = _Progress(len(scenarios), sys.stdout)
    started = time.perf_counter()
    try:
        transport = Transport.TLS if args.tls else Transport.DIRECT
        results = run_scenarios(
            scenarios, jobs=args.jobs, transport=transport, on_result=progress.result
        )
    finally:
        progress.finish()
    seconds = time.perf_counter() - started
    if results:
        print(format_table(results, Palette.for_stream(sys.stdout)))
    print(summary_line(results, seconds, bad=len(catalog.bad)), flush=True)
    for target, writer in ((args.junit, write_junit), (args.json, write_json)):
        if target is None:
            continue
        try:
            writer(results, seconds, Path(target), bad=catalog.bad)
        except OSError as exc:
            raise UsageError(f"{target}: cannot write the report ({exc.strerror})") from None
    if catalog.bad:
        return 2
    return 0 if all(r.holds for r in results) else 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "run",
        help="run scenarios (default: scenarios/, else the installed catalog)",
        description="Run scenario files: each in Common Criteria ON and OFF unless it fixes "
        "one (or --cc chooses). A line per scenario as it finishes, then a table. Exit 0 "
        "when every expectation holds, 1 when one does not, 2 when a file was bad.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="scenario files or folders (default: scenarios/ here, else the installed catalog)",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="only scenarios whose id, title or tags match, e.g. 'trp and not revoked'",
    )
    parser.add_argument(
        "--cc",
        choices=sorted(CC_MODES),
        help="run only this Common Criteria mode (scenarios fixing the other are not run)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="make each connection a real TLS handshake on loopback (the reference product "
        "against a lab endpoint) instead of a direct call",
    )
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--json", metavar="FILE", help="write a JSON report with full evidence")
    parser.add_argument(
        "-j", dest="jobs", type=int, default=1, metavar="N", help="run N scenarios at a time"
    )
    parser.add_argument(
        "--product",
        metavar="PROFILE",
        help="run the scenarios against a product (a profile TOML, products/), the model beside it",
    )
    parser.add_argument(
        "--timeline",
        choices=("real",),
        help="with --product: run timeline scenarios' steps on the real clock",
    )
    # With --product: the product trusts what the secret makes (pki trust-bundle).
    add_secret_option(parser)
    parser.set_defaults(handler=run)
