"""``ocsp-lab pki build [SCENARIO] --out DIR``: write a PKI for a product under test."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from lab.errors import UsageError
from lab.pki_tree import render_tree
from pki import PKISpec

__all__ = ["parse_t0", "register", "scenario_pki_spec"]


def parse_t0(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-01-01 or 2026-01-01T00:00:00Z, found {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def scenario_pki_spec(path: str | None) -> PKISpec:
    """The PKISpec of a scenario file, or the default PKI."""
    if path is None:
        return PKISpec()
    from lab.scenario import load_scenario

    return load_scenario(Path(path)).pki


def run(args: argparse.Namespace) -> int:
    from pki import CertificateDatabase, build_pki, calendar_t0, write_pki

    now = dt.datetime.now(dt.UTC)
    t0 = args.t0 or calendar_t0(now)
    lab_pki = build_pki(scenario_pki_spec(args.scenario), base_url=args.base_url, t0=t0)
    database = CertificateDatabase.from_pki(lab_pki)
    try:
        written = write_pki(lab_pki, database, Path(args.out), now=now)
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write the PKI ({exc.strerror})") from None
    print(
        f"PKI written to {args.out}/ ({len(written)} files; t0 {t0:%Y-%m-%d}, "
        f"AIA OCSP URL {lab_pki.base_url})"
    )
    print(render_tree(lab_pki, database))
    print(f"See {args.out}/README.txt for what each file is and how to import it.")
    return 0


def register(commands: Any) -> None:
    pki = commands.add_parser("pki", help="the scripted PKI")
    actions = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="write a scenario's PKI (default: the default PKI) to a directory"
    )
    build.add_argument("scenario", nargs="?", help="scenario file (TOML)")
    build.add_argument("--out", required=True, help="directory to write (made mode 0700)")
    build.add_argument(
        "--base-url",
        default="http://127.0.0.1:8080/",
        help="what 'lab' AIA OCSP URLs become (default %(default)s)",
    )
    build.add_argument(
        "--t0",
        type=parse_t0,
        help="start of the validity windows (default: 1 January of this year, UTC)",
    )
    build.set_defaults(handler=run)
