"""``ocsp-lab listen --cert FILE --key FILE``: the reference product as a TLS server.

It presents a certificate, requires a client certificate (mutual TLS), and
checks each client's chain with the lab's validator during the handshake,
completing it or refusing with the alert the verdict calls for
(:mod:`lab.tls.refusal`). Each connection prints how it ended, the evidence
and the verdict (``--json``: one JSON object per line). With ``--count N``
it stops after N connections: exit 0 if every one was allowed, else 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import threading
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
from lab.settings import CheckScope, HttpMethod
from lab.tls.alerts import Alert
from lab.tls.record import ConnectionRecord
from lab.tls.refusal import UNKNOWN_ISSUER, refusal_alert
from lab.tls.server import TlsEndpoint

__all__ = ["register", "run"]


class _Listener:
    """Decides each client (on its connection's thread) and reports each connection."""

    def __init__(self, options: CheckOptions, trust: list[x509.Certificate], as_json: bool):
        self.options = options
        self.trust = trust
        self.as_json = as_json
        self._decided: dict[int, ChainResult | str] = {}  # by thread: the result, or why none
        self._lock = threading.Lock()
        self.refused = 0
        self.seen = 0
        self.done = threading.Condition(self._lock)

    def decide(self, chain: list[x509.Certificate], staple: bytes | None) -> Alert | None:
        try:
            result = check_chain(
                chain, options=self.options, now=dt.datetime.now(dt.UTC), trust=self.trust
            )
        except ValueError as exc:  # the client's issuer is neither presented nor trusted
            self._decided[threading.get_ident()] = str(exc)
            return UNKNOWN_ISSUER
        self._decided[threading.get_ident()] = result
        return refusal_alert(result.verdict)

    def report(self, record: ConnectionRecord) -> None:
        decided = self._decided.pop(threading.get_ident(), None)
        result = decided if isinstance(decided, ChainResult) else None
        allowed = record.completed and result is not None and result.verdict.allowed
        with self._lock:
            self.seen += 1
            self.refused += not allowed
            if self.as_json:
                print(
                    json.dumps(
                        {
                            "connection": record.to_json(),
                            "check": None if result is None else result.to_json(),
                            "problem": decided if isinstance(decided, str) else None,
                            "allowed": allowed,
                        }
                    )
                )
            else:
                print(f"connection {record.describe()}")
                if result is not None:
                    print_chain_result(result)
                elif isinstance(decided, str):
                    print(f"verdict refused: {decided}")
                print(f"outcome {'allowed' if allowed else 'refused'}")
            sys.stdout.flush()
            self.done.notify_all()


def run(args: argparse.Namespace) -> int:
    cert = read_certificate(args.cert)
    key = read_private_key(args.key)
    chain = [c for path in args.chain for c in read_certificates(path)]
    trust = [c for path in args.trust for c in read_certificates(path)]
    if args.count < 0:
        raise UsageError(f"--count {args.count}: expected 0 (for ever) or more connections")
    options = CheckOptions(
        policy=policy_of(args),
        check=CheckScope(args.check),
        hash_algorithm=args.hash,
        method=HttpMethod(args.method),
        timeout=args.timeout.total_seconds(),
        validation=validation_of(args),
    )
    listener = _Listener(options, trust, args.json)
    try:
        endpoint = TlsEndpoint(
            cert,
            key,
            chain,
            host=args.host,
            port=args.port,
            check_client=listener.decide,
            on_connection=listener.report,
            handshake_timeout=args.timeout.total_seconds() * 2,
            security_level=0,  # the validator judges a client's legacy chain, not OpenSSL
        )
    except OSError as exc:
        raise UsageError(f"{args.host}:{args.port}: cannot listen ({exc.strerror})") from None
    with endpoint:
        print(f"listening on {endpoint.address}", flush=True)
        with listener.done:
            while args.count == 0 or listener.seen < args.count:
                listener.done.wait()
    return 0 if listener.refused == 0 else 1


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "listen",
        help="serve TLS as the reference product, checking client certificates",
        description="Present --cert over TLS, require a client certificate, check each "
        "client's chain with the lab's validator during the handshake, and complete it or "
        "refuse with the alert the verdict calls for. Exit 0 if every connection was allowed, "
        "1 otherwise, 2 bad usage.",
    )
    parser.add_argument("--cert", required=True, metavar="FILE", help="the certificate to present")
    parser.add_argument("--key", required=True, metavar="FILE", help="its private key")
    parser.add_argument(
        "--chain", action="append", default=[], metavar="FILE", help="its intermediates"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: the kernel picks)")
    parser.add_argument(
        "--count", type=int, default=0, help="stop after this many connections (0: never)"
    )
    add_trust_argument(parser)
    add_judging_arguments(parser)  # --cc, --soft-fail/--hard-fail, --clock-skew, --require-nonce
    parser.add_argument(
        "--check", choices=[c.value for c in CheckScope], default=CheckScope.CHAIN.value
    )
    parser.add_argument("--hash", choices=("sha1", "sha256"), default="sha1", help="CertID hash")
    parser.add_argument("--method", choices=("post", "get"), default="post")
    parser.add_argument(
        "--timeout", type=duration, default=dt.timedelta(seconds=5), help="per OCSP request"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per connection")
    parser.set_defaults(handler=run)
