"""``ocsp-lab inspect RESPONSE [--request FILE] [--issuer CERT] [--cert CERT] …``.

The tool for a field capture and for a lesson: decode the response (status,
ResponderID, producedAt, each SingleResponse, embedded certificates,
extensions), then run every validator step that can run with what was given,
pass or fail with the reason. Then it answers "would Unified CM refuse
this?": the evidence goes through :func:`lab.policy.decide` under the switches
``check`` takes (:mod:`lab.commands.judging`: ``--cc``, ``--soft-fail`` /
``--hard-fail``, ``--clock-skew``, ``--require-nonce``), and the verdict is
printed with the policy row that made it (``--json`` for machines). Exit codes
are ``check``'s: 0 allowed, 1 refused, 2 when the input is unreadable or
another kind of file than expected (one line naming what it is:
:mod:`lab.capture`).

A folder written by ``check --save`` is read back (:mod:`lab.saved`), and a
pcap/pcapng packet capture for its OCSP exchanges over HTTP (:mod:`lab.pcap`):
both list what they hold and judge ``--exchange N`` (default 1), as of when
it was captured unless ``--at`` says otherwise.

A file copied with its HTTP head (status line, headers, blank line, body) is
read for its body; its start line and Content-Type are shown. For a response,
a status other than 200, or an HTML body, is itself the finding (DESIGN.md
step 3, error ``http-status`` / ``malformed-response``): no trustworthy
answer, so the soft-fail switch decides, as it would for ``check``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from lab.capture import Capture, CaptureKind, HttpMessage, sniff
from lab.commands.certfiles import capture_der, read_capture, read_certificate, read_certificates
from lab.commands.check import format_evidence
from lab.commands.judging import (
    add_judging_arguments,
    add_trust_argument,
    exit_code,
    policy_of,
    validation_of,
)
from lab.errors import UsageError
from lab.evidence import CheckFailure, ErrorCode, Evidence, Step, StepOutcome, error_evidence
from lab.ocsp_request import OCSPRequest
from lab.pcap import PcapError, is_pcap, read_exchanges
from lab.policy import Verdict, decide
from lab.saved import INDEX as SAVED_INDEX
from lab.saved import load as load_saved
from lab.validator import (
    CheckContext,
    ParsedResponse,
    explain_unverified,
    parse_response,
    validate,
)

__all__ = [
    "Inspection",
    "add_capture_arguments",
    "describe_response",
    "inspect_capture",
    "register",
    "run",
]


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


_RESPONSE_TYPE = "application/ocsp-response"


def _http_lines(capture: Capture, path: str) -> list[str]:
    """The HTTP head a capture came with: start line and Content-Type."""
    if capture.http is None:
        return []
    return [
        f"HTTP message    {capture.http.start_line} ({path}; its body is read)",
        f"Content-Type    {capture.http.content_type or 'none'}",
    ]


def _http_finding(capture: Capture) -> str | None:
    """Why an HTTP response carries no OCSP response to judge (DESIGN.md step 3), if it does not."""
    http = capture.http
    if http is None or not http.is_response:
        return None
    if http.status != 200:
        return (
            f"HTTP status {http.status}, not 200: no OCSP response to judge (http-status); "
            f"the body is {capture.describe().split(' in an HTTP message')[0]}"
        )
    if http.media_type == "text/html" and capture.kind is not CaptureKind.OCSP_RESPONSE:
        return (
            "Content-Type text/html: an HTML page, not an OCSP response (malformed-response); "
            f"the body is {capture.describe().split(' in an HTTP message')[0]}"
        )
    if capture.kind is not CaptureKind.OCSP_RESPONSE:
        # What came over the wire as the answer is no OCSP response (an empty, garbled or
        # cut-off body): the transport delivered nothing to judge, as ``check`` would find.
        return (
            "HTTP 200 without an OCSP response in its body (malformed-response); "
            f"the body is {capture.describe().split(' in an HTTP message')[0]}"
        )
    return None


def _finding_evidence(capture: Capture, finding: str, cert: x509.Certificate | None) -> Evidence:
    """The evidence of an HTTP message without an OCSP response to judge (DESIGN.md step 3)."""
    http = capture.http
    code = (
        ErrorCode.HTTP_STATUS
        if http is not None and http.status != 200
        else ErrorCode.MALFORMED_RESPONSE
    )
    return error_evidence(
        code, finding, steps=(Step("transport", StepOutcome.FAIL, finding),), **_identity(cert)
    )


def _identity(cert: x509.Certificate | None) -> dict[str, Any]:
    """The evidence fields naming the certificate asked about, when it is known."""
    if cert is None:
        return {}
    return {"subject": cert.subject.rfc4514_string(), "serial": cert.serial_number}


def _report(
    args: argparse.Namespace, lines: list[str], evidence: Evidence, verdict: Verdict
) -> int:
    """Print the lines and the verdict (or the JSON document); ``check``'s exit code."""
    if args.json:
        document = {
            "verdict": verdict.to_json(),
            "evidence": evidence.to_json(),
            "decoded": lines,
        }
        print(json.dumps(document, indent=2))
    else:
        for line in lines:
            print(line)
        print(f"verdict {verdict.explain()}")
    return exit_code(verdict)


@dataclass(frozen=True)
class _Inputs:
    """What is judged: from files named on the command line, or from a ``check --save`` folder."""

    response: Capture | None  # None: the saved exchange got no answer (``transport``)
    response_name: str
    request: Capture | None
    request_name: str
    cert: x509.Certificate | None
    issuer: x509.Certificate | None
    trust: tuple[x509.Certificate, ...]
    at: dt.datetime | None
    given: tuple[str, ...]
    transport: Evidence | None = None
    preamble: tuple[str, ...] = ()  # what the input was read as (a pcap's exchanges)


def _given(args: argparse.Namespace, saved: tuple[str, ...] = ()) -> tuple[str, ...]:
    named = (
        ("request", args.request),
        ("issuer", args.issuer),
        ("cert", args.cert),
        ("trust", args.trust),
    )
    return tuple(dict.fromkeys([*saved, *(name for name, value in named if value)]))


def _from_files(args: argparse.Namespace, response: Capture) -> _Inputs:
    return _Inputs(
        response=response,
        response_name=args.response,
        request=read_capture(args.request) if args.request else None,
        request_name=args.request or "",
        cert=read_certificate(args.cert) if args.cert else None,
        issuer=read_certificate(args.issuer) if args.issuer else None,
        trust=tuple(c for path in args.trust for c in read_certificates(path)),
        at=args.at,
        given=_given(args),
    )


def _from_saved(args: argparse.Namespace, directory: Path) -> _Inputs:
    """Exchange ``--exchange`` of a ``check --save`` folder; options given on the line win."""
    saved = load_saved(directory)
    if not 1 <= args.exchange <= len(saved.exchanges):
        raise UsageError(
            f"{directory}: --exchange {args.exchange}: expected 1 to {len(saved.exchanges)} "
            f"(the exchanges saved in {SAVED_INDEX})"
        )
    exchange = saved.exchanges[args.exchange - 1]
    name = f"{directory}/{args.exchange}-response.der"
    transport = None
    response = None
    if exchange.response is None:
        message = exchange.message or "no answer"
        transport = error_evidence(
            exchange.error or ErrorCode.UNREACHABLE,
            message,
            steps=(Step("transport", StepOutcome.FAIL, f"{exchange.url}: {message}"),),
            **_identity(exchange.cert),
        )
    else:
        body = sniff(exchange.response)
        head = HttpMessage(
            start_line=f"HTTP {exchange.http_status} to {exchange.method.value.upper()} "
            f"{exchange.url}",
            status=exchange.http_status,
            content_type=exchange.content_type,
        )
        response = Capture(body.kind, body.form, body.der, head)
    cert = read_certificate(args.cert) if args.cert else exchange.cert
    issuer = read_certificate(args.issuer) if args.issuer else exchange.issuer
    trust = tuple(c for path in args.trust for c in read_certificates(path)) or saved.trust
    request = read_capture(args.request) if args.request else sniff(exchange.request)
    kept = [
        name
        for name, value in (("request", True), ("issuer", issuer), ("cert", cert), ("trust", trust))
        if value
    ]
    preamble = [
        f"saved check {directory} (checked at {_when(saved.checked_at)}): "
        f"{len(saved.exchanges)} exchange(s)"
    ]
    for n, saved_exchange in enumerate(saved.exchanges, 1):
        if saved_exchange.response is None:
            answer = f"no answer ({saved_exchange.error or 'error'}: {saved_exchange.message})"
        else:
            answer = (
                f"HTTP {saved_exchange.http_status}, "
                f"{saved_exchange.content_type or 'no Content-Type'}"
            )
        mark = "*" if n == args.exchange else " "
        method = saved_exchange.method.value.upper()
        preamble.append(f"{mark} {n}. {method} {saved_exchange.url} => {answer}")
    return _Inputs(
        response=response,
        response_name=name,
        request=request,
        request_name=args.request or f"{directory}/{args.exchange}-request.der",
        cert=cert,
        issuer=issuer,
        trust=trust,
        at=args.at or saved.checked_at,
        given=_given(args, tuple(kept)),
        transport=transport,
        preamble=tuple(preamble),
    )


def _from_pcap(args: argparse.Namespace, data: bytes) -> _Inputs:
    """Exchange ``--exchange`` of a packet capture (:mod:`lab.pcap`), with the list of all."""
    try:
        exchanges = read_exchanges(data)
    except PcapError as exc:
        raise UsageError(f"{args.response}: {exc}") from None
    if not exchanges:
        raise UsageError(
            f"{args.response}: no OCSP exchange over HTTP in the capture (expected an OCSP "
            "request by POST or GET, or an application/ocsp-response answer, on TCP)"
        )
    if not 1 <= args.exchange <= len(exchanges):
        raise UsageError(
            f"{args.response}: --exchange {args.exchange}: expected 1 to {len(exchanges)} "
            "(the OCSP exchanges in the capture)"
        )
    preamble = [f"capture {args.response}: {len(exchanges)} OCSP exchange(s) over HTTP"]
    preamble += [
        f"{'*' if n == args.exchange else ' '} {n}. {e.describe()}"
        for n, e in enumerate(exchanges, 1)
    ]
    exchange = exchanges[args.exchange - 1]
    name = f"{args.response} exchange {args.exchange}"
    transport = None
    if exchange.response is None:
        message = "the capture holds no response to this request"
        transport = error_evidence(
            ErrorCode.UNREACHABLE,
            message,
            steps=(Step("transport", StepOutcome.FAIL, f"{exchange.server}: {message}"),),
            **_identity(read_certificate(args.cert) if args.cert else None),
        )
    inputs = _from_files(args, exchange.response or exchange.request)
    return replace(
        inputs,
        response=exchange.response,
        response_name=f"{name} response",
        request=read_capture(args.request) if args.request else exchange.request,
        request_name=args.request or f"{name} request",
        at=args.at or exchange.answered_at or exchange.at,
        given=_given(args, ("request",)),
        transport=transport,
        preamble=tuple(preamble),
    )


def _request(inputs: _Inputs) -> OCSPRequest | None:
    if inputs.request is None:
        return None
    try:
        return OCSPRequest.parse(
            capture_der(inputs.request, inputs.request_name, CaptureKind.OCSP_REQUEST)
        )
    except ValueError as exc:
        raise UsageError(
            f"{inputs.request_name}: DER of no kind the lab knows, expected an OCSP request ({exc})"
        ) from None


@dataclass(frozen=True)
class Inspection:
    """What ``inspect`` read and found, before anything is printed or decided.

    ``evidence`` is the judgement (never a verdict: :func:`lab.policy.decide`
    makes that under the switches); the rest are the facts it came from, for
    whoever wants more than the verdict (``repro`` writes a scenario of them).
    """

    lines: tuple[str, ...]  # the decoded structure and every step, as printed
    evidence: Evidence
    at: dt.datetime  # the time it was judged at
    source: str  # what the response was read from ("capture.der", "DIR/1-response.der", …)
    response: Capture | None  # None: the exchange got no answer at all
    parsed: ParsedResponse | None  # None: no OCSP response to decode
    request: OCSPRequest | None
    cert: x509.Certificate | None
    issuer: x509.Certificate | None
    trust: tuple[x509.Certificate, ...]
    given: tuple[str, ...]  # which inputs the judgement had ("request", "issuer", …)


def _read_inputs(args: argparse.Namespace) -> _Inputs:
    """What ``args.response`` names: files, a ``check --save`` folder, or a packet capture."""
    path = Path(args.response)
    if path.is_dir():
        return _from_saved(args, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    return _from_pcap(args, data) if is_pcap(data) else _from_files(args, sniff(data))


def inspect_capture(args: argparse.Namespace) -> Inspection:
    """Read the capture ``args`` names and judge it; :class:`UsageError` for a bad input."""
    inputs = _read_inputs(args)
    at = inputs.at or dt.datetime.now(dt.UTC)

    def found(
        lines: list[str],
        evidence: Evidence,
        parsed: ParsedResponse | None = None,
        request: OCSPRequest | None = None,
    ) -> Inspection:
        return Inspection(
            lines=tuple(lines),
            evidence=evidence,
            at=at,
            source=inputs.response_name,
            response=inputs.response,
            parsed=parsed,
            request=request,
            cert=inputs.cert,
            issuer=inputs.issuer,
            trust=inputs.trust,
            given=inputs.given,
        )

    lines: list[str] = list(inputs.preamble)
    if inputs.transport is not None:
        lines += format_evidence(inputs.transport)
        return found(lines, inputs.transport)
    response = inputs.response
    assert response is not None
    finding = _http_finding(response)
    if finding is not None:
        lines += _http_lines(response, inputs.response_name)
        evidence = _finding_evidence(response, finding, inputs.cert)
        lines += format_evidence(evidence)
        return found(lines, evidence)
    der = capture_der(response, inputs.response_name, CaptureKind.OCSP_RESPONSE)
    try:
        parsed = parse_response(der)
    except CheckFailure as failure:
        # DER that no loader recognised (lab.capture): the response parser says what is wrong.
        raise UsageError(
            f"{inputs.response_name}: DER of no kind the lab knows, expected an OCSP response "
            f"({failure.message})"
        ) from None
    request = _request(inputs)
    context = CheckContext(
        now=at,
        cert=inputs.cert,
        issuer=inputs.issuer,
        requested=request.cert_id if request else None,
        nonce=request.nonce if request else None,
        trust=inputs.trust,
        options=validation_of(args),
    )
    lines += _http_lines(response, inputs.response_name)
    if response.http is not None and response.http.media_type != _RESPONSE_TYPE:
        # DESIGN.md step 3: the signature protects the content; a wrong type only warns.
        lines.append(f"  {'transport':<11} {'warn':<4} content type not {_RESPONSE_TYPE}")
    if inputs.request is not None:
        lines += _http_lines(inputs.request, inputs.request_name)
    lines += describe_response(parsed)
    lines.append(
        f"validation at {_when(context.now)} with {', '.join(inputs.given) or 'the response alone'}"
    )
    if context.issuer is None:
        lines.append(
            "  (no --issuer: the Delegated Trust Model cannot run; only the trust store can)"
        )
    if request is None:
        lines.append("  (no --request: the nonce is not checked)")
    evidence = validate(der, context)
    lines += format_evidence(evidence)
    if evidence.error in (ErrorCode.BAD_SIGNATURE, ErrorCode.SIGNER_NOT_AUTHORIZED):
        # For the lesson: what the untrusted answer says. Never part of the verdict.
        lines.append("had the signer been trusted (explanation only, the answer is NOT trusted):")
        lines += [
            f"  {step.name:<11} {step.outcome.value:<4} {step.detail}"
            for step in explain_unverified(der, context)
        ]
    return found(lines, evidence, parsed, request)


def run(args: argparse.Namespace) -> int:
    policy = policy_of(args)
    inspection = inspect_capture(args)
    evidence = inspection.evidence
    return _report(args, list(inspection.lines), evidence, decide(evidence, policy))


def add_capture_arguments(parser: Any) -> None:
    """RESPONSE, ``--exchange``, ``--request``, ``--issuer``, ``--cert``, ``--trust``, ``--at``.

    What names a capture and the files judged with it; ``repro`` takes the same.
    """
    parser.add_argument(
        "response",
        metavar="RESPONSE",
        help="the captured response, a pcap/pcapng capture, or a folder written by check --save",
    )
    parser.add_argument(
        "--exchange",
        type=int,
        default=1,
        metavar="N",
        help="of a check --save folder or a pcap/pcapng capture: which exchange (default 1)",
    )
    parser.add_argument("--request", metavar="FILE", help="the captured request (nonce, CertID)")
    parser.add_argument("--issuer", metavar="CERT", help="the issuing CA of the certificate")
    parser.add_argument("--cert", metavar="CERT", help="the certificate asked about")
    add_trust_argument(parser)
    parser.add_argument(
        "--at", type=_at, help="judge as of this time (ISO 8601, UTC; default: now)"
    )


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect",
        help="decode and judge a captured OCSP response",
        description="Decode RESPONSE (DER, PEM, base64, or an HTTP message with one as its "
        "body), run every validator step that the given files allow, and decide as Unified "
        "CM would. Exit 0 allowed, 1 refused, 2 unreadable input or a file of another kind.",
    )
    add_capture_arguments(parser)
    add_judging_arguments(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)
