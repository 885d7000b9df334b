"""The content checks, final once a trust model accepted the signer.

Unknown critical extensions (RFC 6960 4.4, RFC 5280 4.2); CertID match (RFC
6960 3.2 item 1) with revoked > unknown > good among several matches;
thisUpdate / nextUpdate against the clock skew (RFC 6960 3.2 items 5–6,
4.2.2.1); nonce (RFC 6960 4.4.1, RFC 9654). Each check raises
:class:`~lab.evidence.CheckFailure` or returns how to write its step's detail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lab.evidence import CertStatus, CheckFailure, ErrorCode, NonceState, StepOutcome
from lab.ocsp_request import RequestedCertID
from lab.validator.context import CheckContext, Prepared
from lab.validator.response import ParsedResponse, SingleResponse
from pki.certid import CERTID_HASHES

__all__ = [
    "Render",
    "check_extensions",
    "check_freshness",
    "check_nonce",
    "fmt",
    "select",
    "status_detail",
]

#: Worst first: several matching SingleResponses give the worst (DESIGN.md; BoringSSL, mozilla).
_SEVERITY = {CertStatus.REVOKED: 0, CertStatus.UNKNOWN: 1, CertStatus.GOOD: 2}


def _matches(single: RequestedCertID, ctx: CheckContext, prep: Prepared) -> bool:
    """RFC 6960 3.2 item 1: issuer name hash, issuer key hash and serial all match."""
    requested = ctx.requested
    if prep.serial is not None and single.serial != prep.serial:
        return False
    if (
        ctx.options.strict_cert_id
        and requested
        and single.hash_algorithm != requested.hash_algorithm
    ):
        return False
    if prep.issuer is not None:
        if single.hash_algorithm not in CERTID_HASHES:
            return False  # MD5 or an unknown hash: cannot be recomputed, so no match
        name_hash, key_hash = prep.issuer.certid_hashes(single.hash_algorithm)
        return single.issuer_name_hash == name_hash and single.issuer_key_hash == key_hash
    if requested is not None:  # inspect with a captured request but no issuer
        return (
            single.hash_algorithm == requested.hash_algorithm
            and single.issuer_name_hash == requested.issuer_name_hash
            and single.issuer_key_hash == requested.issuer_key_hash
        )
    return True  # nothing to compare with: inspect says so


def fmt(when: dt.datetime | None) -> str:
    return "none" if when is None else when.strftime("%Y-%m-%d %H:%M:%SZ")


#: A step's detail, written when someone reads it (most checks are never explained).
Render = Callable[[], str]


def check_extensions(parsed: ParsedResponse) -> Render:
    """RFC 6960 4.4 / RFC 5280 4.2: an unknown critical extension refuses the answer."""
    critical = list(parsed.critical_extensions)
    for single in parsed.singles:
        critical += single.critical_extensions
    if critical:
        raise CheckFailure(
            ErrorCode.CRITICAL_EXTENSION,
            f"unknown critical extension(s) {', '.join(critical)} (RFC 6960 4.4)",
        )
    count = len(parsed.extensions)
    return lambda: (
        "no unknown critical extension" + (f" ({count} response extension(s))" if count else "")
    )


def select(
    parsed: ParsedResponse, ctx: CheckContext, prep: Prepared
) -> tuple[SingleResponse, Render, list[str]]:
    """RFC 6960 3.2 item 1: the matching SingleResponses, worst first (revoked > unknown > good)."""
    matching = [s for s in parsed.singles if _matches(s.cert_id, ctx, prep)]
    if not matching:
        asked = f"serial {_asked_serial(ctx)}"
        raise CheckFailure(
            ErrorCode.NO_MATCHING_RESPONSE,
            f"none of the {len(parsed.singles)} SingleResponse(s) is for {asked} of this issuer"
            + (" with the request's hash (strict_cert_id)" if ctx.options.strict_cert_id else ""),
        )
    single = matching[0] if len(matching) == 1 else min(matching, key=lambda s: _SEVERITY[s.status])

    def detail() -> str:
        text = (
            f"{len(matching)} matching SingleResponse(s), "
            f"CertID hash {single.cert_id.hash_algorithm}"
        )
        if ctx.issuer is None and ctx.requested is None:
            text += " (no issuer or request given: issuer hashes not checked)"
        if ctx.cert is None and ctx.requested is None:
            text += " (no certificate or request given: serial not checked)"
        if single.extensions:  # RFC 6960 4.4: shown whatever they are; critical ones judged above
            text += "; singleExtensions: " + "; ".join(str(e) for e in single.extensions)
        return text

    warnings = []
    if ctx.requested and single.cert_id.hash_algorithm != ctx.requested.hash_algorithm:
        warnings.append(
            f"answered with a {single.cert_id.hash_algorithm} CertID to a "
            f"{ctx.requested.hash_algorithm} request (recomputed)"
        )
    return single, detail, warnings


def check_freshness(single: SingleResponse, ctx: CheckContext) -> Render:
    """RFC 6960 3.2 items 5–6 and 4.2.2.1, with the clock skew."""
    skew = ctx.options.clock_skew
    this_update, next_update = single.this_update, single.next_update
    if this_update > ctx.now + skew:
        raise CheckFailure(
            ErrorCode.FUTURE_RESPONSE,
            f"thisUpdate {fmt(this_update)} is after now {fmt(ctx.now)} + skew",
        )
    if next_update is not None:
        if next_update < this_update:
            raise CheckFailure(ErrorCode.MALFORMED_RESPONSE, "nextUpdate is before thisUpdate")
        if next_update < ctx.now - skew:
            raise CheckFailure(
                ErrorCode.STALE_RESPONSE,
                f"nextUpdate {fmt(next_update)} has passed (now {fmt(ctx.now)})",
            )
        return lambda: f"thisUpdate {fmt(this_update)}, nextUpdate {fmt(next_update)}"
    limit = this_update + ctx.options.max_age_without_next_update
    if ctx.now - skew > limit:
        raise CheckFailure(
            ErrorCode.STALE_RESPONSE,
            f"no nextUpdate and thisUpdate {fmt(this_update)} is more than "
            f"{ctx.options.max_age_without_next_update} old",
        )
    return lambda: f"thisUpdate {fmt(this_update)}, no nextUpdate (fresh until {fmt(limit)})"


def check_nonce(parsed: ParsedResponse, ctx: CheckContext) -> tuple[NonceState, StepOutcome, str]:
    """RFC 6960 4.4.1 / RFC 9654: the nonce binds the answer to this request."""
    if ctx.nonce is None:
        return NonceState.NOT_SENT, StepOutcome.SKIP, "none sent"
    if parsed.nonce is None:
        if ctx.options.require_nonce:
            raise CheckFailure(ErrorCode.NONCE_MISSING, "nonce sent but not echoed (require_nonce)")
        return (
            NonceState.MISSING,
            StepOutcome.WARN,
            "nonce sent but not echoed (a pre-produced answer?)",
        )
    if parsed.nonce != ctx.nonce:
        raise CheckFailure(
            ErrorCode.NONCE_MISMATCH,
            f"the response echoes another nonce (sent {ctx.nonce.hex().upper()}, "
            f"received {parsed.nonce.hex().upper()})",
        )
    return (
        NonceState.ECHOED,
        StepOutcome.PASS,
        _ECHOED.get(len(ctx.nonce)) or (f"echoed ({len(ctx.nonce)} octets)"),
    )


_ECHOED = {n: f"echoed ({n} octets)" for n in range(1, 129)}


def status_detail(single: SingleResponse) -> str:
    detail = single.status.value
    if single.status is CertStatus.REVOKED:
        detail += f", reason {single.reason or 'none given'}, since {fmt(single.revocation_time)}"
    return detail


def _asked_serial(ctx: CheckContext) -> str:
    if ctx.cert is not None:
        return format(ctx.cert.serial_number, "X")
    if ctx.requested is not None:
        return format(ctx.requested.serial, "X")
    return "?"
