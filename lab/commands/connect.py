"""``ocsp-lab connect HOST:PORT``: the reference product as a TLS client.

It connects, asks for a staple (status_request, RFC 6066 8), and checks the
server's chain with the lab's validator *during* the handshake — asking the
responder of the certificate's AIA, or judging the staple per ``--stapling``
— then completes the handshake or aborts it with the alert the verdict calls
for (:mod:`lab.tls.refusal`: 44 revoked, 46 unknown / no answer, 42
otherwise). It prints how the connection ended, the evidence and the
verdict; ``--json`` for machines. ``--cert`` / ``--key`` present a client
certificate (mutual TLS): a server that refuses it is seen as its alert.
Exit 0 allowed, 1 refused (by us or by the server), 2 bad usage or nothing
to connect to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from cryptography import x509

from lab.chain_check import ChainResult, CheckOptions, check_chain
from lab.commands.certfiles import read_certificate, read_certificates, read_private_key
from lab.commands.check import print_chain_result
from lab.commands.judging import (
    add_judging_arguments,
    add_trust_argument,
    duration,
    policy_of,
    validation_of,
)
from lab.errors import UsageError
from lab.settings import CheckScope, HttpMethod, Stapling
from lab.tls.alerts import Alert
from lab.tls.client import ClientResult, tls_connect
from lab.tls.io import sni_for
from lab.tls.refusal import UNKNOWN_ISSUER, refusal_alert

__all__ = ["parse_address", "register", "run"]


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) → (host, port); :class:`UsageError` otherwise."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{text}: expected HOST:PORT with a port from 1 to 65535")
    return host, int(port)


class _Decision:
    """The validator inside the handshake: the chain and staple in, an alert or None out."""

    def __init__(self, options: CheckOptions, trust: list[x509.Certificate]) -> None:
        self.options = options
        self.trust = trust
        self.result: ChainResult | None = None
        self.problem: str | None = None

    def __call__(self, chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
        try:
            self.result = check_chain(
                chain,
                options=self.options,
                now=dt.datetime.now(dt.UTC),
                trust=self.trust,
                staple=staple,
            )
        except ValueError as exc:  # the leaf's issuer is neither presented nor trusted
            self.problem = str(exc)
            return UNKNOWN_ISSUER
        return refusal_alert(self.result.verdict)


def _allowed(connection: ClientResult, decision: _Decision) -> bool:
    return (
        connection.record.completed
        and decision.result is not None
        and decision.result.verdict.allowed
    )


def run(args: argparse.Namespace) -> int:
    host, port = parse_address(args.address)
    trust = [c for path in args.trust for c in read_certificates(path)]
    if args.no_nonce and args.require_nonce:
        raise UsageError("--require-nonce cannot be combined with --no-nonce")
    stapling = Stapling(args.stapling)
    options = CheckOptions(
        policy=policy_of(args),
        check=CheckScope(args.check),
        hash_algorithm=args.hash,
        method=HttpMethod(args.method),
        nonce=not args.no_nonce,
        timeout=args.timeout.total_seconds(),
        validation=validation_of(args),
        stapling=stapling,
    )
    if (args.cert is None) != (args.key is None):
        raise UsageError("--cert and --key go together (a client certificate and its key)")
    client_cert = None if args.cert is None else read_certificate(args.cert)
    client_key = None if args.key is None else read_private_key(args.key)
    client_chain = [c for path in args.chain for c in read_certificates(path)]
    decision = _Decision(options, trust)
    try:
        connection = tls_connect(
            host,
            port,
            decide=decision,
            certificate=client_cert,
            private_key=client_key,
            chain=client_chain,
            server_name=sni_for(host),
            # A TLS 1.2 staple comes after the certificate is verified (lab.tls.peer_check).
            tls13_only=stapling is not Stapling.IGNORE,
            timeout=args.timeout.total_seconds() * 2,
            # The validator judges keys and hashes (SHA-1 warned, MD5 refused): OpenSSL's
            # security level must not refuse a legacy chain before it has decided.
            security_level=0,
        )
    except OSError as exc:
        raise UsageError(f"{args.address}: cannot connect ({exc.strerror or exc})") from None
    allowed = _allowed(connection, decision)
    if args.json:
        print(json.dumps(_json(connection, decision, allowed), indent=2))
    else:
        _print(connection, decision, allowed)
    return 0 if allowed else 1


def _json(connection: ClientResult, decision: _Decision, allowed: bool) -> dict[str, Any]:
    return {
        "connection": connection.record.to_json(),
        "presented": [c.subject.rfc4514_string() for c in connection.chain],
        "stapled": connection.staple is not None,
        "check": None if decision.result is None else decision.result.to_json(),
        "problem": decision.problem,
        "allowed": allowed,
    }


def _print(connection: ClientResult, decision: _Decision, allowed: bool) -> None:
    record = connection.record
    print(f"connection {record.describe()}")
    staple = connection.staple
    print(f"staple     {f'{len(staple)} bytes' if staple else 'none'}")
    if decision.result is not None:
        print_chain_result(decision.result)
    elif decision.problem is not None:
        print(f"verdict refused: {decision.problem}")
    else:
        print("verdict none: the handshake ended before the server's chain was checked")
    print(f"outcome {'allowed' if allowed else 'refused'}")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "connect",
        help="connect to a TLS server as the reference product (the lab's validator)",
        description="Connect to HOST:PORT over TLS, check the server's chain with the lab's "
        "validator during the handshake, and complete it or abort with the alert the verdict "
        "calls for. Exit 0 allowed, 1 refused, 2 bad usage or nothing to connect to.",
    )
    parser.add_argument("address", metavar="HOST:PORT", help="the TLS server")
    add_trust_argument(parser)
    parser.add_argument(
        "--cert", metavar="FILE", help="present this client certificate (mutual TLS)"
    )
    parser.add_argument("--key", metavar="FILE", help="the client certificate's private key")
    parser.add_argument(
        "--chain", action="append", default=[], metavar="FILE", help="its intermediates"
    )
    add_judging_arguments(parser)  # --cc, --soft-fail/--hard-fail, --clock-skew, --require-nonce
    parser.add_argument(
        "--stapling",
        choices=[s.value for s in Stapling],
        default=Stapling.IGNORE.value,
        help="what a stapled answer means ([client] stapling; default ignore)",
    )
    parser.add_argument(
        "--check", choices=[c.value for c in CheckScope], default=CheckScope.CHAIN.value
    )
    parser.add_argument("--hash", choices=("sha1", "sha256"), default="sha1", help="CertID hash")
    parser.add_argument("--method", choices=("post", "get"), default="post")
    parser.add_argument("--no-nonce", action="store_true", help="send no nonce")
    parser.add_argument(
        "--timeout",
        type=duration,
        default=dt.timedelta(seconds=5),
        help="per OCSP request; the handshake gets twice this (e.g. 5s, 500ms)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)
