"""``{ocsp_lab}`` in a product command: the running lab's command line, lean for the reference.

A product run starts the reference product (``ocsp-lab connect``) once per
connection: ``python -m lab`` would import every command (flask, the
responder, the pcap reader …) each time, some 0.35 s of CPU more than
``connect`` needs — most of a catalog run. So this entry parses and runs
``connect`` and ``listen`` from their own modules alone (the same
``register`` and handler as ``ocsp-lab``, so the same options and output),
and hands any other command line to :func:`lab.cli.main`.

Errors are reported as ``ocsp-lab`` reports them: one line per mistake on
stderr, exit 2 (DESIGN.md).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from lab.errors import LabError

__all__ = ["LEAN", "main"]

#: The commands run without importing the rest of the CLI.
LEAN = {"connect": "lab.commands.connect", "listen": "lab.commands.listen"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``argv`` (default ``sys.argv[1:]``) as ``ocsp-lab`` would; the exit code."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] not in LEAN:
        from lab.cli import main as full

        return full(args_in)
    parser = argparse.ArgumentParser(prog="ocsp-lab")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    importlib.import_module(LEAN[args_in[0]]).register(commands)
    args = parser.parse_args(args_in)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()
        return code
    except LabError as exc:
        for line in exc.lines:
            print(f"ocsp-lab: error: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
