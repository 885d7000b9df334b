"""The ``ocsp-lab`` command line.

Exit codes (DESIGN.md): 0 success, 1 an expectation or check failed, 2 bad
usage or a bad input file — with a one-line message naming the file, the key
and what was expected, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import lab
from lab.commands import check, connect, explain, inspect, listen, pki_build, repro, run, serve
from lab.errors import LabError
from pki import PKIError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]

#: Every subcommand, in the order ``--help`` lists them (``completion`` last).
COMMANDS = (run, explain, pki_build, check, inspect, repro, connect, listen, serve)

#: The shells ``ocsp-lab completion`` writes a script for.
SHELLS = ("bash", "zsh")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocsp-lab",
        description="A self-contained OCSP test lab: scripted PKI, responder, validator.",
    )
    parser.add_argument("--version", action="version", version=f"ocsp-lab {lab.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for module in COMMANDS:
        module.register(commands)
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description="Print a completion script generated from this command line's parser: "
        'bash: eval "$(ocsp-lab completion bash)"; zsh: ocsp-lab completion zsh > '
        "~/.zfunc/_ocsp-lab (a folder on $fpath).",
    )
    completion.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    completion.set_defaults(handler=lambda args: _completion(parser, args.shell))
    return parser


def _completion(parser: argparse.ArgumentParser, shell: str) -> int:
    """The completion script for ``shell``, from the parser itself: it never lags an option."""
    import shtab  # only this subcommand needs it

    print(shtab.complete(parser, shell=shell))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Command = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, where it is handled
        return code
    except (LabError, PKIError) as exc:
        # One line per mistake (a scenario file may have several), each a line of its own.
        for line in exc.lines if isinstance(exc, LabError) else str(exc).splitlines():
            print(f"ocsp-lab: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``ocsp-lab explain … | head``): not an error of
        # ours. Point stdout at /dev/null so the interpreter's final flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    raise SystemExit(main())
