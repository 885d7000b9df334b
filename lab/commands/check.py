"""``ocsp-lab check CERT --issuer CERT …``: check one certificate against any responder.

Ours, ``openssl ocsp``, a customer's. One line per step with what was found,
then status, reason, trusted_by, error code and verdict, in the scenario
format's words (``revoked``, ``keyCompromise``, ``dtm``,
``signer-not-authorized``, …); ``--json`` for machines. ``--save DIR`` keeps
every exchange (:mod:`lab.saved`) for ``inspect DIR``. Exit 0 allowed, 1
refused, 2 bad usage or an unreadable input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from lab.chain_check import ChainResult, CheckOptions, check_chain
from lab.commands.certfiles import read_certificate, read_certificates
from lab.commands.judging import (
    add_judging_arguments,
    add_trust_argument,
    duration,
    exit_code,
    policy_of,
    validation_of,
)
from lab.errors import UsageError
from lab.evidence import Evidence
from lab.saved import Recorder, SavedCheck, exchanges_of, save
from lab.settings import CheckScope, HttpMethod, UriSource

__all__ = ["format_evidence", "print_chain_result", "register", "run"]


def format_evidence(evidence: Evidence, indent: str = "  ") -> list[str]:
    """The steps, then the summary lines, as ``check`` prints them."""
    lines = [
        f"{indent}{step.name:<11} {step.outcome.value:<4} {step.detail}" for step in evidence.steps
    ]
    revoked_at = evidence.revocation_time
    lines += [
        f"{indent}{'status':<11} {evidence.status.value}",
        f"{indent}{'reason':<11} {evidence.reason or '-'}"
        + (f" (since {revoked_at:%Y-%m-%d %H:%M:%SZ})" if revoked_at else ""),
        f"{indent}{'trusted_by':<11} {evidence.trusted_by.value}",
        f"{indent}{'error':<11} {evidence.error.value if evidence.error else '-'}"
        + (f" ({evidence.message})" if evidence.error else ""),
    ]
    lines += [f"{indent}{'warning':<11} {w}" for w in evidence.warnings]
    return lines


def print_chain_result(result: ChainResult) -> None:
    """Each check's steps and verdict, every presented certificate, the chain's verdict."""
    for check in result.checks:
        evidence = check.evidence
        print(f"certificate {evidence.subject} (serial {evidence.serial or 0:X})")
        for line in format_evidence(evidence):
            print(line)
        print(f"  {'verdict':<11} {check.verdict.explain()}")
    for cert in result.presented:
        if cert.not_checked is not None:
            # Not asked about, yet its validity period counts (lab.policy.decide_unchecked).
            print(
                f"presented {cert.subject} (serial {cert.serial:X}): not asked "
                f"({cert.not_checked}); validity {cert.validity.value} "
                f"({cert.not_before:%Y-%m-%d %H:%M:%SZ} .. {cert.not_after:%Y-%m-%d %H:%M:%SZ})"
            )
    print(f"verdict {result.verdict.explain()}")


def run(args: argparse.Namespace) -> int:
    leaf = read_certificate(args.cert)
    issuer = read_certificate(args.issuer)
    trust = [c for path in args.trust for c in read_certificates(path)]
    chain = [c for path in args.chain for c in read_certificates(path)]
    options = CheckOptions(
        policy=policy_of(args),
        uri=UriSource.CONFIGURED if args.url else UriSource.CERTIFICATE,
        configured_uri=args.url,
        check=CheckScope.CHAIN if chain else CheckScope.LEAF,
        hash_algorithm=args.hash,
        method=HttpMethod(args.method),
        nonce=not args.no_nonce,
        timeout=args.timeout.total_seconds(),
        validation=validation_of(args),
    )
    if args.no_nonce and args.require_nonce:
        raise UsageError("--require-nonce cannot be combined with --no-nonce")
    presented = [leaf, issuer, *chain] if chain else [leaf]
    recorder = Recorder()
    now = dt.datetime.now(dt.UTC)
    try:
        result = check_chain(
            presented,
            options=options,
            now=now,
            trust=trust,
            issuer=issuer,
            fetcher=recorder,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.save:
        exchanges = exchanges_of(recorder.exchanges, [*presented, issuer, *trust])
        save(Path(args.save), SavedCheck(now, exchanges, tuple(trust)))
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_chain_result(result)
    return exit_code(result.verdict)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="check one certificate against any OCSP responder",
        description="Check CERT (issued by --issuer) with OCSP and print every step. "
        "Exit 0 allowed, 1 refused, 2 bad usage or unreadable input.",
    )
    parser.add_argument("cert", metavar="CERT", help="the certificate to check (PEM or DER)")
    parser.add_argument("--issuer", required=True, metavar="CERT", help="its issuing CA")
    parser.add_argument(
        "--url", help="ask this responder (the configured URI) instead of the AIA OCSP URLs"
    )
    add_trust_argument(parser)
    parser.add_argument(
        "--chain",
        action="append",
        default=[],
        metavar="FILE",
        help="more of the presented chain above the issuer; also checks --issuer and these "
        "when they have a URI (repeatable)",
    )
    add_judging_arguments(parser)
    parser.add_argument("--hash", choices=("sha1", "sha256"), default="sha1", help="CertID hash")
    parser.add_argument("--method", choices=("post", "get"), default="post")
    parser.add_argument("--no-nonce", action="store_true", help="send no nonce")
    parser.add_argument(
        "--timeout", type=duration, default=dt.timedelta(seconds=5), help="e.g. 5s, 500ms"
    )
    parser.add_argument(
        "--save",
        metavar="DIR",
        help="keep what was exchanged in DIR (requests, responses, HTTP status and headers, "
        "the certificates asked about): ocsp-lab inspect DIR reads it back",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)
