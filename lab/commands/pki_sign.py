"""``ocsp-lab pki sign REQUEST.csr --issuer CA [--profile server|client] --out DIR [SCENARIO]``.

A product that keeps its own key gets its certificate from the lab: the
subject and SANs of its CSR (whose signature must verify), the lab's AIA
OCSP URL, issued by a lab CA of the PKI ``serve`` builds for the same
``--out``, ``--base-url`` and ``--t0`` (:func:`lab.commands.pki_build.product_pki`,
the per-installation secret). The certificate goes to ``DIR/NAME.pem`` and
into the live state of ``DIR`` (:func:`responder.issue.issue_from_csr`), so
``ocsp-lab serve --out DIR`` answers ``good`` for it, and ``revoked`` after
``POST /~admin/revoke {"name": NAME}``. A CSR that is unreadable or does not
verify is refused: exit 2, one line.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from lab.commands.pki_build import (
    add_secret_option,
    parse_base_url,
    parse_out_dir,
    parse_t0,
    product_pki,
)
from lab.errors import UsageError
from pki.csr import SignProfile

__all__ = ["add_sign", "run"]


def _name(text: str) -> str:
    from responder.issue import NAME

    if not NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected letters, digits, '.', '_' or '-' (at most 64, a file name), found {text!r}"
        )
    return text


def run(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives.serialization import Encoding

    from lab.commands.serve import responder_config
    from pki import write_pki
    from pki.openssl_index import write_index
    from responder.app import served_identity
    from responder.issue import issue_from_csr
    from responder.state import ResponderState, StateError

    now = dt.datetime.now(dt.UTC)
    try:
        csr_data = Path(args.csr).read_bytes()
    except OSError as exc:
        raise UsageError(f"{args.csr}: cannot read ({exc.strerror})") from None
    out = Path(args.out)
    lab_pki, database, secret = product_pki(
        args.scenario,
        out=out,
        secret_file=args.secret_file,
        base_url=args.base_url,
        t0=args.t0,
        now=now,
    )
    config = responder_config(args.scenario, None)
    try:
        write_pki(lab_pki, database, out, now=now, secret=secret)
        # The state serve keeps for this same PKI and scenario (the same identity).
        state = ResponderState(
            database,
            config.faults,
            directory=out,
            identity=served_identity(lab_pki, database, config),
        )
    except StateError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the PKI ({exc.strerror})") from None
    try:
        signed, record = issue_from_csr(
            lab_pki,
            state,
            csr_data,
            issuer=args.issuer,
            profile=SignProfile(args.profile),
            now=now,
            name=args.name,
        )
        assert record.name is not None
        path = out / f"{record.name}.pem"
        path.write_bytes(signed.certificate.public_bytes(Encoding.PEM))
        write_index(state.database, args.issuer, out, now=now)  # openssl ocsp -index agrees
    except StateError as exc:
        raise UsageError(f"{args.csr}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the certificate ({exc.strerror})") from None
    finally:
        if state.store is not None:
            state.store.close()
    print(
        f"signed {signed.subject} (serial {signed.serial:X}) with {args.issuer} as "
        f"{record.name!r}: {path}"
    )
    print(f"AIA OCSP URL {lab_pki.base_url}; status good in {out}/ (serve --out {out} answers it)")
    print(f"Keys derived from {secret.describe()}")
    return 0


def add_sign(actions: Any) -> None:
    """The ``pki sign`` action, beside ``pki build``."""
    sign = actions.add_parser(
        "sign",
        help="sign a product's CSR with a lab CA; the served responder knows the certificate",
        description="Issue the certificate for REQUEST (a PKCS #10 CSR, PEM or DER): its "
        "subject and SANs, the lab's AIA OCSP URL; filed as good in DIR's live state. "
        "Exit 2 when the CSR is unreadable or its signature does not verify.",
    )
    sign.add_argument("csr", metavar="REQUEST", help="the CSR (PEM or DER)")
    sign.add_argument("scenario", nargs="?", help="scenario file (TOML) whose PKI serve uses")
    sign.add_argument("--issuer", default="intermediate", help="the lab CA (%(default)s)")
    sign.add_argument(
        "--profile",
        choices=[p.value for p in SignProfile],
        default=SignProfile.SERVER.value,
        help="server: serverAuth + clientAuth; client: clientAuth (%(default)s)",
    )
    sign.add_argument(
        "--name", type=_name, help="its name for the admin API (default: the CSR's CN)"
    )
    sign.add_argument(
        "--out", required=True, type=parse_out_dir, help="the PKI and state directory of serve"
    )
    sign.add_argument(
        "--base-url",
        type=parse_base_url,
        default="http://127.0.0.1:8080/",
        help="the AIA OCSP URL, as serve's (default %(default)s)",
    )
    sign.add_argument("--t0", type=parse_t0, help="start of the validity windows, as serve's")
    add_secret_option(sign)
    sign.set_defaults(handler=run)
