"""``ocsp-lab pki build [SCENARIO] --out DIR``: write a PKI for a product under test.

What it writes may come to be trusted by a product, so its keys are derived
from the per-installation lab secret (:mod:`pki.secret`), never from the
public scenario one; ``--secret-file`` (or ``OCSP_LAB_SECRET_FILE``) shares
one on purpose. ``serve`` builds its PKI the same way (:func:`product_pki`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.errors import UsageError
from lab.pki_tree import render_tree
from pki import PKI, CertificateDatabase, PKIError, PKISpec
from pki.secret import SECRET_FILE_ENV, LabSecret

__all__ = [
    "add_secret_option",
    "parse_base_url",
    "parse_out_dir",
    "parse_t0",
    "product_pki",
    "register",
    "scenario_pki_spec",
]

# RFC 5280 4.1.2.5: UTCTime up to 2049, GeneralizedTime after, and no date past
# 9999-12-31T23:59:59Z; before 1950 there is no conformant encoding at all.
_FIRST_TIME = dt.datetime(1950, 1, 1, tzinfo=dt.UTC)


def parse_t0(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2026-01-01 or 2026-01-01T00:00:00Z, found {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def parse_base_url(text: str) -> str:
    """``--base-url``: an http:// or https:// URL with a host (the AIA OCSP URL)."""
    expected = (
        "expected an http:// or https:// URL with a host, like http://10.0.0.5:8080/, "
        f"found {text!r}"
    )
    # RFC 3986 has no spaces or control characters in a URI; a product would
    # see a different URL than the one given.
    if not text.isprintable() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(expected)
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise argparse.ArgumentTypeError(expected) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(expected)
    return text


def parse_out_dir(text: str) -> str:
    """``--out``: a directory path; '' would be the current directory, chmodded 0700."""
    if not text:
        raise argparse.ArgumentTypeError("expected a directory path, found ''")
    return text


def add_secret_option(parser: argparse.ArgumentParser) -> None:
    """``--secret-file``, for every command that writes what a product may trust."""
    parser.add_argument(
        "--secret-file",
        metavar="FILE",
        help=(
            "the lab secret the keys are derived from, shared on purpose "
            f"(default: ${SECRET_FILE_ENV}, else ~/.config/ocsp-lab/secret, made on first use)"
        ),
    )


def scenario_pki_spec(path: str | None) -> PKISpec:
    """The PKISpec of a scenario file, or the default PKI."""
    if path is None:
        return PKISpec()
    from lab.scenario import load_scenario

    return load_scenario(Path(path)).pki


def _check_validity_fits(spec: PKISpec, t0: dt.datetime, base_url: str, where: str) -> None:
    """Refuse a t0 that puts a validity window outside what X.509 can encode."""
    from pki.profiles import resolve

    for cert in spec.certs:
        if cert.from_file is not None:
            continue  # its validity is the file's, whatever t0 is
        try:
            window = resolve(cert, t0=t0, base_url=base_url)
        except OverflowError:
            raise UsageError(
                f"{where}: certificate {cert.name!r} would be valid past 9999-12-31 "
                "(expected an earlier date)"
            ) from None
        if window.not_before < _FIRST_TIME:
            raise UsageError(
                f"{where}: certificate {cert.name!r} would be valid from "
                f"{window.not_before:%Y-%m-%d}, before 1950 (expected a later date)"
            )


def product_pki(
    scenario: str | None,
    *,
    out: Path,
    secret_file: str | None,
    base_url: str,
    t0: dt.datetime | None,
    now: dt.datetime,
) -> tuple[PKI, CertificateDatabase, LabSecret]:
    """A scenario's PKI and database built for a product, and the secret of its keys.

    The keys come from the per-installation secret. ``out`` is where the PKI
    will go: checked first (:func:`pki.export.check_out_dir`), so a refused
    ``--out`` neither makes a secret nor lets a caller touch the directory.
    ``t0`` is ``--t0``; None is 1 January of ``now``'s year. A PKI that cannot
    be built is a :class:`UsageError` naming the scenario file.
    """
    from pki import build_pki, calendar_t0
    from pki.export import check_out_dir
    from pki.secret import installation_secret

    check_out_dir(out)
    spec = scenario_pki_spec(scenario)
    secret = installation_secret(secret_file)
    spec = replace(spec, seed=secret.value)
    where = f"--t0 {t0:%Y-%m-%d}" if t0 is not None else "t0"
    t0 = t0 or calendar_t0(now)
    try:
        _check_validity_fits(spec, t0, base_url, where)
        lab_pki = build_pki(spec, base_url=base_url, t0=t0)
        database = CertificateDatabase.from_pki(lab_pki)
    except PKIError as exc:
        raise UsageError(f"{scenario or 'the default PKI'}: {exc}") from None
    return lab_pki, database, secret


def run(args: argparse.Namespace) -> int:
    from pki import write_pki

    now = dt.datetime.now(dt.UTC)
    lab_pki, database, secret = product_pki(
        args.scenario,
        out=Path(args.out),
        secret_file=args.secret_file,
        base_url=args.base_url,
        t0=args.t0,
        now=now,
    )
    try:
        written = write_pki(lab_pki, database, Path(args.out), now=now, secret=secret)
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write the PKI ({exc.strerror})") from None
    print(
        f"PKI written to {args.out}/ ({len(written)} files; t0 {lab_pki.t0:%Y-%m-%d}, "
        f"AIA OCSP URL {lab_pki.base_url})"
    )
    print(f"Keys derived from {secret.describe()}")
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
    build.add_argument(
        "--out",
        required=True,
        type=parse_out_dir,
        help="directory to write (made mode 0700): new, empty, or one it wrote before",
    )
    build.add_argument(
        "--base-url",
        type=parse_base_url,
        default="http://127.0.0.1:8080/",
        help="what 'lab' AIA OCSP URLs become (default %(default)s)",
    )
    build.add_argument(
        "--t0",
        type=parse_t0,
        help="start of the validity windows (default: 1 January of this year, UTC)",
    )
    add_secret_option(build)
    build.set_defaults(handler=run)
    from lab.commands.pki_sign import add_sign

    add_sign(actions)
    from lab.commands.trust_bundle import add_trust_bundle

    add_trust_bundle(actions)
