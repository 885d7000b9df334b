"""A scenario from a capture: the situation ``inspect`` judged, reproduced with lab keys.

A support engineer has what the customer sent (a response, maybe the request,
the CA, a pcap or a ``check --save`` folder). ``inspect`` judges it; this
module turns that judgement and the facts behind it into a scenario file
(SCENARIOS.md) that makes the *lab's* responder answer the lab's validator in
the same way, with the lab's own certificates and keys — never the
customer's — so the case joins the regression catalog.

Every finding becomes the key that means it in the format, and only a key the
contract defines:

- **who signed it** (DESIGN.md step 4): the issuing CA itself → ``signer =
  "intermediate"`` (the lab's CA of ``server``); a delegated responder of that
  CA → the default ``responder``; a designated signer the trust store vouches
  for (TRP) → ``signer = "trusted-responder"`` in ``[client] trust``; a signer
  nobody authorises → ``trusted-responder`` left out of the trust store; a
  signer whose certificate the answer does not carry (and nobody gave) →
  ``certs = "none"``; a ResponderID that names none of the certificates it
  does carry → ``faults.responder_id = "wrong"``; a signature that does not
  verify → ``faults.signature = "corrupt"``. ``certs``, ``responder_id`` and
  ``signature_hash`` as captured.
- **what it said**: ``[database] server`` (revoked with its reason and since,
  relative to t0; ``hold``; ``unknown``), and ``not_found = "unauthorized"``
  for the unsigned ``unauthorized`` (RFC 6960 2.3: the responder has no record).
- **when** (RFC 6960 4.2.2.1): t0 is the time ``inspect`` judged at, so the
  validator's "now" of the run stands where the judgement stood. ``[responder]
  next_update`` is nextUpdate − thisUpdate (``"none"`` without one); a stale
  answer is ``faults.next_update`` (nextUpdate − t0), an answer dated away
  from now is ``faults.this_update`` (thisUpdate − t0). Whole seconds: what
  GeneralizedTime carries.
- **the exchange**: nonce omitted / another (``faults.nonce``), no nonce sent
  (``[client] nonce = false``), CertID hash (``[client] hash`` as asked,
  ``faults.cert_id`` for another hash or another CertID), unknown critical
  extensions, an unsuccessful responseStatus (``faults.status``), the HTTP
  status and content type, an unreadable body, no answer (``down``, or
  ``delay`` beyond ``[client] timeout``).

A finding no key of the format can say (no answer for another reason than a
timeout or a refused connection, an undefined responseStatus) is a
:class:`~lab.errors.UsageError`: a scenario that says something else is not
written. The command (:mod:`lab.commands.repro`) also runs the scenario
before writing it, so a reproduction that does not reproduce never lands in a
catalog.

The run asks about the leaf only (``[client] check = "leaf"``): a capture is
one answer about one certificate, and the lab's intermediate must not add a
check of its own to the verdict. ``[[expect]]`` is the verdict ``inspect``
gave, in each Common Criteria mode (or the one ``--cc`` named).
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509

from lab.capture import Capture, HttpMessage
from lab.errors import UsageError
from lab.evidence import CertStatus, CertValidity, ErrorCode, Evidence, TrustedBy
from lab.ocsp_request import OCSPRequest
from lab.policy import Policy, Verdict, decide
from lab.timespec import format_duration, format_offset
from lab.validator import ParsedResponse, SingleResponse, ValidationOptions
from responder.fault_table import fault_key
from responder.protocol import NonceForm, OCSPRequestError, decode_any_request

__all__ = ["Captured", "Judging", "Repro", "reproduce"]

#: The lab certificates a reproduction names (SCENARIOS.md, "The default PKI").
_CA, _LEAF, _DELEGATED, _TRP = "intermediate", "server", "responder", "trusted-responder"
#: The response media type (RFC 6960 A.2).
_RESPONSE_TYPE = "application/ocsp-response"
#: The responseStatus values ``faults.status`` sends (responder.fault_table, one table).
_STATUS_FAULTS = fault_key("status").words
#: The hashes the format's ``[client] hash`` and ``faults.cert_id`` know.
_CERTID_HASHES = ("sha1", "sha256")
#: The answers' signature hashes the format's ``[responder] signature_hash`` knows.
_SIGNATURE_HASHES = ("sha1", "sha256", "sha384", "sha512")
#: A thisUpdate at most this much before t0 is the honest "now" of the answer: the time it
#: took to reach the judgement (a live check, a capture), not a misbehaviour to reproduce.
#: Never more than seconds, so no freshness verdict (minutes of skew) can turn on it.
_LATENCY = dt.timedelta(seconds=5)
#: A responder that never answered within the client's timeout: how the run shows it.
_TIMEOUT, _DELAY = dt.timedelta(milliseconds=300), dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Judging:
    """The switches the verdict was given under (``inspect``'s, the ``[client]`` words)."""

    common_criteria: bool | None = None  # None: both modes
    soft_fail: bool | None = None  # None: follows Common Criteria
    clock_skew: dt.timedelta = ValidationOptions().clock_skew
    require_nonce: bool = False

    def modes(self) -> tuple[bool, ...]:
        if self.common_criteria is None:
            return (True, False)
        return (self.common_criteria,)


@dataclass(frozen=True)
class Captured:
    """What ``inspect`` judged, and what it found (``lab.commands.inspect.Inspection``)."""

    evidence: Evidence
    at: dt.datetime  # the time it was judged at: t0 of the reproduction
    source: str
    response: Capture | None  # None: no answer came at all
    parsed: ParsedResponse | None  # None: nothing that decodes as an OCSP response
    request: OCSPRequest | None
    cert: x509.Certificate | None = None
    issuer: x509.Certificate | None = None
    trust: tuple[x509.Certificate, ...] = ()
    given: tuple[str, ...] = ()


@dataclass
class _Sections:
    """The scenario's tables as they fill up, and the story of each key."""

    database: dict[str, object] = field(default_factory=dict)
    responder: dict[str, object] = field(default_factory=dict)
    faults: dict[str, object] = field(default_factory=dict)
    client: dict[str, object] = field(default_factory=dict)
    certs: list[dict[str, object]] = field(default_factory=list)
    trust: list[str] = field(default_factory=lambda: ["root"])
    story: list[str] = field(default_factory=list)  # "key: why", one per reproduced finding

    def note(self, key: str, why: str) -> None:
        self.story.append(f"{key}: {why}")

    def trusting(self, name: str) -> None:
        if name not in self.trust:
            self.trust.append(name)


@dataclass(frozen=True)
class Repro:
    """The written scenario and the verdict it reproduces."""

    text: str  # the TOML file
    title: str
    verdicts: tuple[Verdict, ...]  # per mode, in the order of Judging.modes()
    evidence: Evidence


# ---- time ---------------------------------------------------------------------------------


def _seconds(delta: dt.timedelta) -> dt.timedelta:
    """Whole seconds (GeneralizedTime's resolution in OCSP, RFC 6960 4.2.2.1), nearest."""
    return dt.timedelta(seconds=round(delta.total_seconds()))


def _offset(when: dt.datetime, t0: dt.datetime) -> str:
    return format_offset(_seconds(when - t0))


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# ---- who signed it ----------------------------------------------------------------------


def _named(parsed: ParsedResponse, cert: x509.Certificate) -> bool:
    """RFC 6960 4.2.2.3: the ResponderID names ``cert`` (byKey: SHA-1 of the key bits)."""
    if parsed.responder_id_kind == "by_key":
        digest = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        return digest == parsed.responder_id
    try:
        named = asn1_x509.Name.load(parsed.responder_id)
        return bool(named == asn1_x509.Name.load(cert.subject.public_bytes()))
    except ValueError:
        return False


def _named_signer(captured: Captured) -> tuple[str, x509.Certificate] | None:
    """Which certificate the ResponderID names, and where it was found ("issuer", "trust", …)."""
    parsed = captured.parsed
    assert parsed is not None
    places: list[tuple[str, x509.Certificate]] = []
    if captured.issuer is not None:
        places.append(("issuer", captured.issuer))
    places += [("embedded", c) for c in parsed.certs]
    places += [("trust", c) for c in captured.trust]
    return next(((where, c) for where, c in places if _named(parsed, c)), None)


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _signer(captured: Captured, out: _Sections) -> None:
    """``signer`` / trust / signer faults: a lab signer whose answer is trusted the same way."""
    evidence, parsed = captured.evidence, captured.parsed
    assert parsed is not None
    named = _named_signer(captured)
    who = _subject(named[1]) if named else "a certificate nobody gave"
    delegated = False  # signed by the lab's delegated responder, as the capture's signer was
    if evidence.trusted_by is TrustedBy.DTM:
        delegated = evidence.delegated_responder
        if not delegated:
            out.responder["signer"] = _CA
            out.note(
                "signer",
                f'"{_CA}": the issuing CA signed the answer itself ({evidence.signer_subject}); '
                "the Delegated Trust Model accepts it (RFC 6960 4.2.2.2)",
            )
        else:
            out.note(
                "signer",
                f'the default "{_DELEGATED}", the lab CA\'s delegated OCSP signer, as '
                f"{evidence.signer_subject} was: issued by the CA, id-kp-OCSPSigning "
                "(RFC 6960 4.2.2.2)",
            )
    elif evidence.trusted_by is TrustedBy.TRP:
        out.responder["signer"] = _TRP
        out.trusting(_TRP)
        out.note(
            "signer",
            f'"{_TRP}", in [client] trust: {evidence.signer_subject} was trusted as a '
            "designated OCSP signing certificate of the trust store (Trusted Responder model)",
        )
    elif evidence.error is ErrorCode.SIGNER_NOT_AUTHORIZED:
        if named is None and not parsed.certs:
            out.note(
                "certs",
                f'"none": its ResponderID ({parsed.responder_id_text}) names a certificate '
                "the answer does not carry and the client was not given, so the signer "
                f'cannot be found; the lab\'s "{_DELEGATED}" signs without its certificate',
            )
        elif named is None:
            out.faults["responder_id"] = "wrong"
            out.note(
                "faults.responder_id",
                '"wrong": its ResponderID names no certificate of the response, the issuer '
                "or the trust store, so no signer can be found",
            )
        else:
            out.responder["signer"] = _TRP
            out.note(
                "signer",
                f'"{_TRP}", left out of [client] trust: {who} is neither the issuing CA nor '
                "its delegated responder, nor a designated signer the trust store holds, so "
                "neither the Delegated Trust Model nor the Trusted Responder model accepts it",
            )
    elif evidence.error is ErrorCode.BAD_SIGNATURE:
        out.faults["signature"] = "corrupt"
        if named is not None and named[0] == "issuer":
            out.responder["signer"] = _CA
            signer = f'"{_CA}" (the issuing CA, as {who})'
        elif named is not None and named[0] == "trust":
            out.responder["signer"] = _TRP
            out.trusting(_TRP)
            signer = f'"{_TRP}" in [client] trust (as {who} was)'
        else:
            delegated = True
            signer = f'the default "{_DELEGATED}" (as {who})'
        out.note(
            "faults.signature",
            f'"corrupt": the signature does not verify with its signer\'s key; signed by {signer}',
        )
    if delegated and not parsed.certs:
        # No certificate in the answer: the validator found the signer in the trust store.
        out.trusting(_DELEGATED)
        out.note(
            "client.trust",
            f'"{_DELEGATED}" too: the answer carried no certificate, the signer was found in the '
            "trust store given",
        )


def _shape(parsed: ParsedResponse, out: _Sections) -> None:
    """``certs``, ``responder_id``, ``signature_hash`` as captured."""
    certs = "none" if not parsed.certs else "signer" if len(parsed.certs) == 1 else "chain"
    out.responder["certs"] = certs
    out.responder["responder_id"] = "name" if parsed.responder_id_kind == "by_name" else "key"
    hashed = f" with {parsed.signature_hash}" if parsed.signature_hash else ""
    if parsed.signature_hash in _SIGNATURE_HASHES:
        out.responder["signature_hash"] = parsed.signature_hash
        out.note(
            "signature_hash",
            f'"{parsed.signature_hash}": it was signed {parsed.signature_algorithm}{hashed}; '
            "the lab signs with its own key (ECDSA P-256) and that hash",
        )
    elif parsed.signature_algorithm:
        out.note(
            "signature",
            f"it was signed {parsed.signature_algorithm}{hashed}; the lab signs with its "
            "own key's default",
        )


# ---- what it said, and when ---------------------------------------------------------------


def _single(captured: Captured) -> SingleResponse | None:
    """The SingleResponse the verdict is about: the one of the evidence's status, else the first."""
    parsed = captured.parsed
    if parsed is None or not parsed.singles:
        return None
    status = captured.evidence.status
    return next((s for s in parsed.singles if s.status.value == status.value), parsed.singles[0])


def _status(single: SingleResponse, t0: dt.datetime, out: _Sections) -> None:
    if single.status is CertStatus.GOOD:
        out.note("database", f'"{_LEAF}" is good (the default)')
        return
    if single.status is CertStatus.UNKNOWN:
        out.database[_LEAF] = "unknown"
        out.responder["not_found"] = "unknown"
        out.note(
            "database",
            f'"{_LEAF}" = "unknown": the responder has no record of the serial asked '
            '(not_found = "unknown" answers it so)',
        )
        return
    since = _offset(single.revocation_time or t0, t0)
    if single.reason == "certificateHold":
        out.database[_LEAF] = {"status": "hold", "since": since}
        out.note("database", f'"{_LEAF}" on hold (certificateHold) since {since}')
        return
    entry: dict[str, object] = {"status": "revoked"}
    if single.reason:
        entry["reason"] = single.reason
    entry["since"] = since
    out.database[_LEAF] = entry
    out.note("database", f'"{_LEAF}" revoked ({single.reason or "no reason"}) since {since}')


def _times(single: SingleResponse, t0: dt.datetime, out: _Sections) -> None:
    """thisUpdate / nextUpdate as offsets from t0 (the honest lab dates thisUpdate at now)."""
    this_update, next_update = single.this_update, single.next_update
    validity = None if next_update is None else _seconds(next_update - this_update)
    if validity is None:
        out.responder["next_update"] = "none"
        out.note("next_update", '"none": the answer carried no nextUpdate')
    elif validity >= dt.timedelta(0):
        out.responder["next_update"] = format_duration(validity)
        out.note("next_update", f"nextUpdate − thisUpdate was {format_duration(validity)}")
    stale = next_update is not None and _seconds(next_update - t0) < dt.timedelta(0)
    if stale and validity is not None and validity >= dt.timedelta(0):
        assert next_update is not None
        offset = _offset(next_update, t0)
        out.faults["next_update"] = offset
        out.note("faults.next_update", f"{offset}: nextUpdate {_when(next_update)} had passed")
    elif not -_LATENCY <= _seconds(this_update - t0) <= dt.timedelta(0):
        offset = _offset(this_update, t0)
        out.faults["this_update"] = offset
        later = "after" if this_update > t0 else "before"
        out.note(
            "faults.this_update",
            f"{offset}: thisUpdate was {_when(this_update)}, {later} the time it was judged at",
        )


def _raw_nonce(request: OCSPRequest | None, out: _Sections) -> None:
    """Tell a nonce sent raw: the lab's client cannot send one, so the answer to it stands in."""
    if request is None or request.nonce is None:
        return
    try:
        form = decode_any_request(request.der).nonce_form
    except OCSPRequestError:
        return
    if form is NonceForm.RAW:
        out.note(
            "client.nonce",
            "the request sent its nonce raw (extnValue the nonce itself, not an OCTET STRING: "
            "RFC 6960 4.4.1's loose reading); the lab's client sends it wrapped (RFC 9654 "
            "2.1), so what the answer was is reproduced, not the request",
        )


def _asked_serial(captured: Captured) -> int | None:
    if captured.cert is not None:
        return captured.cert.serial_number
    if captured.request is not None:
        return captured.request.cert_id.serial
    return None


def _exchange(captured: Captured, single: SingleResponse | None, out: _Sections) -> None:
    """Nonce, CertID and critical extensions (RFC 6960 4.4.1, 3.2 item 1, 4.4)."""
    parsed, request, evidence = captured.parsed, captured.request, captured.evidence
    assert parsed is not None
    if request is None or request.nonce is None:
        out.client["nonce"] = False
        out.note(
            "client.nonce",
            "false: " + ("no request was given" if request is None else "the request had none"),
        )
    elif parsed.nonce is None:
        out.faults["nonce"] = "omit"
        out.note("faults.nonce", '"omit": the request carried a nonce, the answer none')
    elif parsed.nonce != request.nonce:
        out.faults["nonce"] = "wrong"
        out.note("faults.nonce", '"wrong": the answer echoed another nonce than the request sent')
    if single is None:
        return
    asked = request.cert_id.hash_algorithm if request else single.cert_id.hash_algorithm
    if asked in _CERTID_HASHES:
        out.client["hash"] = asked
    answered = single.cert_id.hash_algorithm
    if evidence.error is ErrorCode.NO_MATCHING_RESPONSE:
        serial = _asked_serial(captured)
        wrong = "wrong-serial" if serial is not None and single.cert_id.serial != serial else ""
        out.faults["cert_id"] = wrong or "wrong-issuer"
        out.note(
            "faults.cert_id",
            f'"{out.faults["cert_id"]}": its SingleResponse is for another '
            + ("serial" if wrong else "issuer")
            + " than asked",
        )
    elif request is not None and answered != asked and answered in _CERTID_HASHES:
        out.faults["cert_id"] = answered
        out.note("faults.cert_id", f'"{answered}": asked with {asked}, answered with {answered}')
    critical = [
        *parsed.critical_extensions,
        *(o for s in parsed.singles for o in s.critical_extensions),
    ]
    if critical:
        out.faults["critical_extension"] = True
        out.note("faults.critical_extension", f"true: unknown critical {', '.join(critical)}")


# ---- the HTTP exchange --------------------------------------------------------------------


def _body_fault(response: Capture) -> str:
    if response.form == "empty":
        return "empty"
    if response.form == "DER":
        return "truncated"  # DER that starts as a SEQUENCE and does not load
    return "garbage"


def _transport(captured: Captured, out: _Sections) -> bool:
    """The HTTP-level findings; True when there was no OCSP response to go on with."""
    evidence, response = captured.evidence, captured.response
    if response is None:
        if evidence.error is ErrorCode.TIMEOUT:
            out.faults["delay"] = format_duration(_DELAY)
            out.client["timeout"] = format_duration(_TIMEOUT)
            out.note(
                "faults.delay",
                f"{format_duration(_DELAY)} beyond [client] timeout = "
                f"{format_duration(_TIMEOUT)}: no answer came in time ({evidence.message})",
            )
        elif evidence.error is ErrorCode.UNREACHABLE:
            out.faults["down"] = True
            out.note("faults.down", f"true: no answer came ({evidence.message})")
        else:  # e.g. a body over the size cap, a redirect to another host: no fault says it
            code = evidence.error.value if evidence.error else evidence.status.value
            raise UsageError(
                f"{captured.source}: {code} without an answer ({evidence.message}): no fault "
                "of the scenario format reproduces it"
            )
        return True
    http: HttpMessage | None = response.http
    if http is not None and http.is_response and http.status != 200:
        assert http.status is not None
        out.faults["http_status"] = http.status
        out.note("faults.http_status", f"{http.status}: {http.start_line}, no OCSP body")
        return True
    wrong_type = http is not None and http.is_response and http.media_type != _RESPONSE_TYPE
    if wrong_type:
        assert http is not None
        out.faults["content_type"] = http.content_type or ""
        out.note("faults.content_type", f'"{http.content_type}" instead of {_RESPONSE_TYPE}')
    if captured.parsed is None:
        fault = _body_fault(response)
        out.faults["body"] = fault
        out.note("faults.body", f'"{fault}": the body was {response.describe()}')
        return True
    return False


# ---- the verdict --------------------------------------------------------------------------


def _client(captured: Captured, judging: Judging, out: _Sections) -> None:
    out.client["check"] = "leaf"
    if judging.common_criteria is not None:
        out.client["common_criteria"] = judging.common_criteria
    if judging.soft_fail is not None:
        out.client["soft_fail"] = judging.soft_fail
    if judging.clock_skew != ValidationOptions().clock_skew:
        out.client["clock_skew"] = format_duration(judging.clock_skew)
    if judging.require_nonce and out.client.get("nonce") is not False:
        out.client["require_nonce"] = True
    if out.trust != ["root"]:
        out.client["trust"] = list(out.trust)


def _validity(captured: Captured, t0: dt.datetime, out: _Sections) -> None:
    """The presented certificate outside its validity period: the same window for ``server``."""
    cert = captured.cert
    if cert is None or captured.evidence.cert_validity is CertValidity.VALID:
        return
    window = {
        "from": _offset(cert.not_valid_before_utc, t0),
        "to": _offset(cert.not_valid_after_utc, t0),
    }
    out.certs.append({"name": _LEAF, "issuer": _CA, "valid": window})
    out.note(
        "pki.cert server.valid",
        f"{window['from']} .. {window['to']}: the certificate was "
        f"{captured.evidence.cert_validity.value} at t0",
    )


def _connection(verdicts: Sequence[Verdict]) -> object:
    words = [("allowed" if v.allowed else "refused") for v in verdicts]
    if len(set(words)) == 1:
        return words[0]
    return {"cc_on": words[0], "cc_off": words[1]}


def _expect(evidence: Evidence, connection: object) -> dict[str, object]:
    expect: dict[str, object] = {"status": evidence.status.value}
    if evidence.status is CertStatus.REVOKED and evidence.reason:
        expect["reason"] = evidence.reason
    if evidence.error is not None:
        expect["error"] = evidence.error.value
    expect["trusted_by"] = evidence.trusted_by.value
    expect["connection"] = connection
    return expect


def _outcome(evidence: Evidence) -> str:
    if evidence.error is not None:
        return f"error {evidence.error.value}"
    if evidence.status is CertStatus.REVOKED:
        return f"revoked ({evidence.reason or 'no reason'})"
    return evidence.status.value


def _decided(verdicts: Sequence[Verdict]) -> str:
    """ "refused in both modes", "refused with Common Criteria ON, allowed OFF", …"""
    words = ["allowed" if v.allowed else "refused" for v in verdicts]
    if len(verdicts) == 1:
        return f"{words[0]} with Common Criteria {'ON' if verdicts[0].common_criteria else 'OFF'}"
    if words[0] == words[1]:
        return f"{words[0]} in both modes"
    return f"{words[0]} with Common Criteria ON, {words[1]} OFF"


def _title(evidence: Evidence, verdicts: Sequence[Verdict]) -> str:
    signed = {
        TrustedBy.DTM: ", delegated trust",
        TrustedBy.TRP: ", trusted responder",
        TrustedBy.NONE: "",
    }[evidence.trusted_by]
    return f"Field capture: {_outcome(evidence)}{signed}; {_decided(verdicts)}"


def _wrap(text: str, bullet: bool = False) -> list[str]:
    """One paragraph (or list item) at most 78 columns wide, for people reading the file."""
    if bullet:
        return textwrap.wrap(text, 78, initial_indent="- ", subsequent_indent="  ")
    return textwrap.wrap(text, 78)


def _about(captured: Captured, verdicts: Sequence[Verdict], out: _Sections) -> str:
    evidence = captured.evidence
    what = captured.response.describe() if captured.response else "no answer"
    given = ", ".join(captured.given) or "the response alone"
    lines = _wrap(
        f"Made by `ocsp-lab repro` from {captured.source}: {what}, judged as of "
        f"{_when(captured.at)} (t0 here) with {given}."
    )
    lines.append("")
    lines += _wrap(
        f"What the product decided: the check found {_outcome(evidence)}, trusted by "
        f"{evidence.trusted_by.value}"
        + (f" ({evidence.message})" if evidence.message else "")
        + "."
    )
    for verdict in verdicts:
        lines += _wrap(verdict.explain(), bullet=True)
    lines.append("")
    lines += _wrap(
        "How the lab reproduces it, with its own keys (never the customer's): one answer "
        'about "server" ([client] check = "leaf"), times as offsets from t0:'
    )
    for entry in out.story:
        lines += _wrap(entry, bullet=True)
    lines.append("")
    lines += _wrap(f"What to notice: {_notice(evidence, verdicts)}")
    return "\n".join(lines)


def _notice(evidence: Evidence, verdicts: Sequence[Verdict]) -> str:
    """The lesson of the case: what decided, and what the Common Criteria switch did."""
    text = f"{_outcome(evidence)} decides, {_decided(verdicts)}."
    if evidence.is_error:
        text += (
            " No trustworthy answer came, so soft_fail decides (on by default only with "
            "Common Criteria OFF); fix what the error names at the responder, not in the "
            "product's settings."
        )
    elif evidence.status is CertStatus.UNKNOWN:
        text += (
            " A signed unknown: Common Criteria ON refuses it, OFF allows it; a responder "
            "that knows the certificate (its CA database) is the fix."
        )
    elif evidence.trusted_by is TrustedBy.TRP:
        text += (
            " The signer is trusted only because its certificate is in the trust store "
            "(tomcat-trust): without it the answer would be signer-not-authorized."
        )
    return text


def reproduce(captured: Captured, judging: Judging, *, title: str | None = None) -> Repro:
    """The scenario that reproduces ``captured`` and the verdict it got under ``judging``.

    ``title`` names the case (one line); without it the title says the outcome and verdict.
    """
    out = _Sections()
    t0 = captured.at
    evidence = captured.evidence
    if not _transport(captured, out):
        parsed = captured.parsed
        assert parsed is not None
        if parsed.status_code != 0:
            name = parsed.status_name
            if name == "unauthorized":
                out.database[_LEAF] = "unknown"
                out.responder["not_found"] = "unauthorized"
                out.note(
                    "not_found",
                    '"unauthorized" for a certificate it has no record of: the unsigned '
                    "responseStatus unauthorized (RFC 6960 2.3)",
                )
            elif name in _STATUS_FAULTS:
                out.faults["status"] = name
                out.note("faults.status", f'"{name}": the unsigned responseStatus it sent')
            else:  # RFC 6960 4.2.1 defines no such value: a fault can only send defined ones
                raise UsageError(
                    f"{captured.source}: responseStatus {name}: no fault of the scenario "
                    f"format sends it (status takes {', '.join(_STATUS_FAULTS)})"
                )
        else:
            _signer(captured, out)
            _shape(parsed, out)
            single = _single(captured)
            if single is not None:
                _status(single, t0, out)
                _times(single, t0, out)
            _exchange(captured, single, out)
    _raw_nonce(captured.request, out)
    _validity(captured, t0, out)
    _client(captured, judging, out)
    verdicts = tuple(
        decide(evidence, Policy(common_criteria=cc, soft_fail=judging.soft_fail))
        for cc in judging.modes()
    )
    title = title or _title(evidence, verdicts)
    tags = ["field", "repro", (evidence.error.value if evidence.error else evidence.status.value)]
    document: dict[str, object] = {
        "title": title,
        "tags": tags,
        "about": _about(captured, verdicts, out),
    }
    if out.certs:
        document["pki"] = {"cert": out.certs}
    if out.database:
        document["database"] = out.database
    responder: dict[str, object] = dict(out.responder)
    if out.faults:
        responder["faults"] = out.faults
    if responder:
        document["responder"] = responder
    document["client"] = out.client
    document["expect"] = [_expect(evidence, _connection(verdicts))]
    return Repro(_toml(document), title, verdicts, evidence)


# ---- writing TOML -------------------------------------------------------------------------
#
# tomllib only reads. The documents here are small and of known shapes (strings, integers,
# booleans, lists of strings, inline tables of those), so they are written by a few lines
# rather than a new dependency: a JSON string is a valid TOML basic string (TOML 1.0,
# "Basic strings": the same escapes).


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def _multiline(text: str) -> str:
    """A TOML multi-line basic string: backslashes escaped, and every third quote of a run."""
    return '"""\n' + text.replace("\\", "\\\\").replace('"""', '""\\"') + '\n"""'


def _table(name: str, table: dict[str, object], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not (isinstance(v, dict) and k == "faults")}
    if plain:
        lines += ["", f"[{name}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in plain.items()]
    faults = table.get("faults")
    if isinstance(faults, dict):
        lines += ["", f"[{name}.faults]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in faults.items()]


def _toml(document: dict[str, object]) -> str:
    lines = [
        f"title = {_value(document['title'])}",
        f"tags = {_value(document['tags'])}",
        f"about = {_multiline(str(document['about']))}",
    ]
    pki = document.get("pki")
    if isinstance(pki, dict):
        for cert in pki["cert"]:
            lines += ["", "[[pki.cert]]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in cert.items()]
    for name in ("database", "responder", "client"):
        table = document.get(name)
        if isinstance(table, dict):
            _table(name, table, lines)
    expects = document["expect"]
    assert isinstance(expects, list)
    for expect in expects:
        lines += ["", "[[expect]]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in expect.items()]
    return "\n".join(lines) + "\n"
