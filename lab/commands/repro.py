"""``ocsp-lab repro CAPTURE [--request REQ] [--issuer CA] [--cert CERT] … --out case.toml``.

The capture is read and judged exactly as ``inspect`` reads and judges it
(:func:`lab.commands.inspect.inspect_capture`: DER, PEM, base64, an HTTP
message, a pcap with ``--exchange N``, a ``check --save`` folder), under the
same switches (``--cc``, ``--soft-fail`` / ``--hard-fail``, ``--clock-skew``,
``--require-nonce``). :mod:`lab.repro` turns that judgement into a scenario
that reproduces it with the lab's keys. Before the file is written it is
loaded and run (:func:`lab.runner.run_scenario`): what ``repro`` writes always
loads and gives the verdict the capture got, or it is not written. Without
``--cc`` the verdict of both Common Criteria modes is reproduced.

Prints the verdict it reproduces and where it wrote. Exit 0 when written; 2
for a bad input (one line naming it, as ``inspect``), a finding the format
cannot say, a run that disagrees, or an ``--out`` that exists already
(``--force`` replaces it) or cannot be written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from lab.commands.inspect import add_capture_arguments, inspect_capture
from lab.commands.judging import add_judging_arguments
from lab.errors import LabError, UsageError
from lab.repro import Captured, Judging, Repro, reproduce
from lab.runner import run_scenario
from lab.scenario import Scenario, load_scenario

__all__ = ["register", "run", "write_repro"]


def _judging(args: argparse.Namespace) -> Judging:
    return Judging(
        common_criteria=None if args.cc is None else args.cc == "on",
        soft_fail=args.soft_fail,
        clock_skew=args.clock_skew,
        require_nonce=args.require_nonce,
    )


def _check(scenario: Scenario, out: Path) -> None:
    """Run the scenario: it must give the verdict the capture got, else nothing is written."""
    result = run_scenario(scenario)
    if result.holds:
        return
    why = result.error or "it does not hold"
    for mode in result.modes:
        if not mode.holds:
            found = [str(m) for e in mode.expectations for m in e.mismatches]
            why = f"{mode.mode}: {mode.error or '; '.join(found)}"
            break
    raise UsageError(f"{out}: not written, the lab cannot reproduce this capture's verdict ({why})")


def write_repro(repro: Repro, out: Path, *, force: bool = False, check: bool = True) -> None:
    """Write ``repro`` to ``out`` once it loads and (``check``) its run gives the verdict.

    :class:`UsageError` when it cannot: ``out`` exists (without ``force``), cannot be
    written, or the run of the scenario disagrees with the capture's verdict.
    """
    if out.exists() and not force:
        raise UsageError(f"{out}: exists already (--force replaces it)")
    if out.is_dir() or out.is_symlink():
        raise UsageError(f"{out}: expected a new file name, found a folder or a link")
    directory = out.parent if str(out.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(suffix=".toml", prefix=".repro-", dir=directory)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(repro.text)
        try:
            scenario = load_scenario(temporary, root=directory)
        except LabError as exc:  # a scenario of ours the loader refuses: a bug, said so
            raise UsageError(
                f"{out}: the scenario repro made does not load ({exc}); please report it"
            ) from None
        if check:
            _check(scenario, out)
        os.replace(temporary, out)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write ({exc.strerror})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def run(args: argparse.Namespace) -> int:
    judging = _judging(args)
    inspection = inspect_capture(args)
    captured = Captured(
        evidence=inspection.evidence,
        at=inspection.at,
        source=inspection.source,
        response=inspection.response,
        parsed=inspection.parsed,
        request=inspection.request,
        cert=inspection.cert,
        issuer=inspection.issuer,
        trust=inspection.trust,
        given=inspection.given,
    )
    title = args.title
    if title is not None and (not title.strip() or "\n" in title or "\r" in title):
        raise UsageError(f"--title {title!r}: expected one non-blank line")
    repro = reproduce(captured, judging, title=title)
    out = Path(args.out)
    write_repro(repro, out, force=args.force)
    evidence = repro.evidence
    error = f", error {evidence.error.value}" if evidence.error else ""
    reason = f" ({evidence.reason})" if evidence.reason else ""
    print(
        f"reproduces status {evidence.status.value}{reason}{error}, "
        f"trusted_by {evidence.trusted_by.value}"
    )
    for verdict in repro.verdicts:
        print(f"  verdict {verdict.explain()}")
    print(f"checked: its run gives that verdict; wrote {out} (ocsp-lab run {out})")
    return 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "repro",
        help="write a scenario that reproduces a captured OCSP exchange with lab keys",
        description="Judge CAPTURE as inspect does, then write a scenario (--out) whose run "
        "gives the same verdict with the lab's own certificates and keys: who signed, the "
        "statuses, times relative to t0, nonce, CertID, faults. Exit 0 written, 2 bad input.",
    )
    add_capture_arguments(parser)
    add_judging_arguments(parser)
    for action in parser._actions:  # the one option whose default differs from inspect's
        if action.dest == "cc":
            action.help = "reproduce this Common Criteria mode only (default: both)"
    parser.set_defaults(cc=None)
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="the scenario file to write (.toml)"
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument(
        "--title", metavar="TEXT", help="the scenario's title (default: its outcome and verdict)"
    )
    parser.set_defaults(handler=run)
