"""``ocsp-lab pki trust-bundle --out DIR [PATH ...]``: what a product imports, once.

Every trust anchor and trusted responder the selected scenarios' ``[client]
trust`` names need, built from the per-installation secret as ``pki build``
and ``serve`` build them (``--secret-file``, ``--base-url`` and ``--t0`` as
theirs), so the product keeps trusting the lab across scenarios, runs and
upgrades (:mod:`lab.product_pki`, :mod:`lab.trust_bundle`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from lab.commands.pki_build import add_secret_option, parse_base_url, parse_out_dir, parse_t0
from lab.errors import UsageError

__all__ = ["add_trust_bundle", "run"]


def run(args: argparse.Namespace) -> int:
    from lab.commands.run import default_paths
    from lab.product_pki import build_trust_bundle
    from lab.scenario import read_scenarios
    from lab.trust_bundle import BUNDLE_FILE, check_bundle_dir, write_trust_bundle
    from pki import PKIError, calendar_t0
    from pki.secret import installation_secret

    out = Path(args.out)
    check_bundle_dir(out)  # before a secret is made or a scenario read
    catalog = read_scenarios(args.paths or default_paths())
    if catalog.bad:
        # A bundle missing a bad file's certificates would look complete: refuse instead.
        for problem in catalog.bad:
            for line in problem.lines:
                print(f"ocsp-lab: error: {line}", file=sys.stderr)
        return 2
    if not catalog.scenarios:
        raise UsageError(f"{' '.join(args.paths)}: no scenario files (expected .toml scenarios)")
    secret = installation_secret(args.secret_file)
    t0 = args.t0 or calendar_t0(dt.datetime.now(dt.UTC))
    try:
        bundle = build_trust_bundle(catalog.scenarios, base_url=args.base_url, secret=secret, t0=t0)
    except PKIError:
        # Only the default PKI raises here (a scenario that cannot be built is listed):
        # its windows follow the t0 given, so --t0 is the input to name.
        raise UsageError(
            f"--t0 {t0:%Y-%m-%d}: a validity window would fall outside 1950-9999, "
            "what X.509 can encode (expected another date)"
        ) from None
    try:
        written = write_trust_bundle(bundle, catalog.scenarios, out)
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write the trust bundle ({exc.strerror})") from None
    variants = sum(e.is_variant for e in bundle.entries)
    print(
        f"Trust bundle written to {args.out}/ ({len(written)} files: "
        f"{len(bundle.entries) - variants} in {BUNDLE_FILE}, {variants} variants; "
        f"t0 {t0:%Y-%m-%d}, AIA OCSP URL {args.base_url}) "
        f"for {len(catalog.scenarios)} scenarios"
    )
    print(f"Keys derived from {secret.describe()}")
    print(f"See {args.out}/README.txt for how to import it and which scenarios it leaves out.")
    return 0


def add_trust_bundle(actions: Any) -> None:
    """The ``pki trust-bundle`` action, beside ``pki build``."""
    bundle = actions.add_parser(
        "trust-bundle",
        help="write the trust anchors and trusted responders the scenarios need, to import once",
        description="Write every certificate the selected scenarios' [client] trust names "
        "(deduplicated; another certificate under a known name is a variant file), "
        "bundle.pem and a README.txt saying how to import them. Built from the "
        "per-installation secret: the same files on every run.",
    )
    bundle.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="scenario files or folders (default: scenarios/ here, else the installed catalog)",
    )
    bundle.add_argument(
        "--out",
        required=True,
        type=parse_out_dir,
        help="directory to write: new, empty, or one it wrote before",
    )
    bundle.add_argument(
        "--base-url",
        type=parse_base_url,
        default="http://127.0.0.1:8080/",
        help="what 'lab' AIA OCSP URLs become, as serve's (default %(default)s)",
    )
    bundle.add_argument(
        "--t0",
        type=parse_t0,
        help="start of the validity windows, as serve's (default: 1 January of this year, UTC)",
    )
    add_secret_option(bundle)
    bundle.set_defaults(handler=run)
