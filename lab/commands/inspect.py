"""``ocsp-lab inspect RESPONSE [--request FILE] [--issuer CERT] [--cert CERT] …``.

The tool for a field capture and for a lesson: decode the response (status,
ResponderID, producedAt, each SingleResponse, embedded certificates,
extensions), then run every validator step that can run with what was given,
pass or fail with the reason. Exit 0 when the validator trusts the answer, 1
when a step fails, 2 when the input is unreadable (one line).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from lab.commands.certfiles import read_certificate, read_certificates, read_der
from lab.commands.check import format_evidence
from lab.errors import UsageError
from lab.evidence import CheckFailure, ErrorCode
from lab.ocsp_request import OCSPRequest
from lab.validator import (
    CheckContext,
    ParsedResponse,
    ValidationOptions,
    explain_unverified,
    parse_response,
    validate,
)

__all__ = ["describe_response", "register", "run"]


def _at(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time like 2026-01-01T12:00:00Z, found {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")


def _cert_lines(cert: x509.Certificate) -> list[str]:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        eku_names = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in eku)
    except x509.ExtensionNotFound:
        eku_names = "none"
    try:
        cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
        nocheck = "yes"
    except x509.ExtensionNotFound:
        nocheck = "no"
    return [
        f"    subject   {cert.subject.rfc4514_string()}",
        f"    issuer    {cert.issuer.rfc4514_string()}",
        f"    serial    {cert.serial_number:X}",
        f"    validity  {_when(cert.not_valid_before_utc)} .. {_when(cert.not_valid_after_utc)}",
        f"    EKU       {eku_names}; id-pkix-ocsp-nocheck {nocheck}",
        f"    sha256    {cert.fingerprint(hashes.SHA256()).hex()}",
    ]


def describe_response(parsed: ParsedResponse) -> list[str]:
    """The decoded structure, one fact a line (RFC 6960 4.2.1 field names)."""
    lines = [f"responseStatus  {parsed.status_name}"]
    if parsed.status_code != 0:
        return lines
    lines += [
        "responseType    id-pkix-ocsp-basic",
        f"responderID     {parsed.responder_id_text}",
        f"producedAt      {_when(parsed.produced_at)}",
    ]
    for i, single in enumerate(parsed.singles, 1):
        cert_id = single.cert_id
        status = single.status.value
        if single.revocation_time is not None:
            status += f" ({single.reason or 'no reason'}, since {_when(single.revocation_time)})"
        lines += [
            f"SingleResponse {i}",
            f"    CertID    {cert_id.hash_algorithm}, issuerNameHash "
            f"{cert_id.issuer_name_hash.hex().upper()}, issuerKeyHash "
            f"{cert_id.issuer_key_hash.hex().upper()}, serial {cert_id.serial:X}",
            f"    status    {status}",
            f"    thisUpdate {_when(single.this_update)}, nextUpdate {_when(single.next_update)}",
        ]
        if single.critical_extensions:
            lines.append(f"    unknown critical extensions {', '.join(single.critical_extensions)}")
    nonce = "none" if parsed.nonce is None else f"{parsed.nonce.hex().upper()}"
    lines.append(f"extensions      {', '.join(parsed.extensions) or 'none'}; nonce {nonce}")
    if parsed.critical_extensions:
        lines.append(f"    unknown critical {', '.join(parsed.critical_extensions)}")
    hash_name = f" with {parsed.signature_hash}" if parsed.signature_hash else ""
    lines.append(f"signature       {parsed.signature_algorithm}{hash_name}")
    lines.append(f"certs           {len(parsed.certs)} embedded")
    for i, cert in enumerate(parsed.certs, 1):
        lines.append(f"  certificate {i}")
        lines += _cert_lines(cert)
    return lines


def run(args: argparse.Namespace) -> int:
    der = read_der(args.response, "an OCSP response")
    try:
        parsed = parse_response(der)
    except CheckFailure as failure:
        raise UsageError(f"{args.response}: {failure.message}") from None
    request = None
    if args.request:
        try:
            request = OCSPRequest.parse(read_der(args.request, "an OCSP request"))
        except ValueError as exc:
            raise UsageError(f"{args.request}: {exc}") from None
    context = CheckContext(
        now=args.at or dt.datetime.now(dt.UTC),
        cert=read_certificate(args.cert) if args.cert else None,
        issuer=read_certificate(args.issuer) if args.issuer else None,
        requested=request.cert_id if request else None,
        nonce=request.nonce if request else None,
        trust=tuple(c for path in args.trust for c in read_certificates(path)),
        options=ValidationOptions(),
    )
    for line in describe_response(parsed):
        print(line)
    given = [
        name
        for name, value in (
            ("request", args.request),
            ("issuer", args.issuer),
            ("cert", args.cert),
            ("trust", args.trust),
        )
        if value
    ]
    print(f"validation at {_when(context.now)} with {', '.join(given) or 'the response alone'}")
    if context.issuer is None:
        print("  (no --issuer: the Delegated Trust Model cannot run; only the trust store can)")
    if request is None:
        print("  (no --request: the nonce is not checked)")
    evidence = validate(der, context)
    for line in format_evidence(evidence):
        print(line)
    if evidence.error in (ErrorCode.BAD_SIGNATURE, ErrorCode.SIGNER_NOT_AUTHORIZED):
        # For the lesson: what the untrusted answer says. Never part of the verdict.
        print("had the signer been trusted (explanation only, the answer is NOT trusted):")
        for step in explain_unverified(der, context):
            print(f"  {step.name:<11} {step.outcome.value:<4} {step.detail}")
    return 1 if evidence.is_error else 0


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect",
        help="decode and judge a captured OCSP response",
        description="Decode RESPONSE (DER, PEM or base64) and run every validator step "
        "that the given files allow. Exit 0 trusted, 1 a step failed, 2 unreadable input.",
    )
    parser.add_argument("response", metavar="RESPONSE", help="the captured response")
    parser.add_argument("--request", metavar="FILE", help="the captured request (nonce, CertID)")
    parser.add_argument("--issuer", metavar="CERT", help="the issuing CA of the certificate")
    parser.add_argument("--cert", metavar="CERT", help="the certificate asked about")
    parser.add_argument(
        "--trust", action="append", default=[], metavar="FILE", help="trust store (repeatable)"
    )
    parser.add_argument(
        "--at", type=_at, help="judge as of this time (ISO 8601, UTC; default: now)"
    )
    parser.set_defaults(handler=run)
