"""The pipeline: bytes and context in, :class:`~lab.evidence.Evidence` out.

Pure: no I/O, no clock (``now`` is part of the context). The steps, in the
order of DESIGN.md's revocation model: response (:mod:`.response`), signer
(:mod:`.signer`), content (:mod:`.content`). Every failure is a
:class:`~lab.evidence.CheckFailure` with exactly one error code, turned into
evidence once, at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lab.evidence import (
    CertStatus,
    CertValidity,
    CheckFailure,
    ErrorCode,
    Evidence,
    NonceState,
    Step,
    StepOutcome,
)
from lab.validator.content import (
    check_extensions,
    check_freshness,
    check_nonce,
    fmt,
    select,
    status_detail,
)
from lab.validator.context import CheckContext, Prepared
from lab.validator.response import ParsedResponse, parse_response, read, status_error
from lab.validator.signer import find_signer

__all__ = ["explain_unverified", "validate"]


def validate(der: bytes, ctx: CheckContext) -> Evidence:
    """Judge the OCSP response ``der`` for ``ctx``; never raises on hostile input."""
    prep = ctx.prepared
    steps: list[Step] = []
    warnings: list[str] = []
    # Evidence's keyword arguments, gathered as the steps find them.
    values: dict[str, Any] = {}
    try:
        _validate(der, ctx, prep, steps, warnings, values)
    except CheckFailure as failure:
        steps.append(
            Step(_FAILED_STEP.get(failure.code, "response"), StepOutcome.FAIL, failure.message)
        )
        values["status"] = CertStatus.ERROR
        values["error"] = failure.code
        values["message"] = failure.message
    values["cert_validity"] = (
        CertValidity.VALID if prep.cert is None else prep.cert.validity(ctx.now)
    )
    values["subject"] = prep.subject
    values["serial"] = prep.serial
    values["warnings"] = tuple(warnings)
    values["steps"] = tuple(steps)
    return Evidence(**values)


_FAILED_STEP = {
    ErrorCode.BAD_SIGNATURE: "signer",
    ErrorCode.SIGNER_NOT_AUTHORIZED: "signer",
    ErrorCode.CRITICAL_EXTENSION: "extensions",
    ErrorCode.NO_MATCHING_RESPONSE: "cert-id",
    ErrorCode.STALE_RESPONSE: "freshness",
    ErrorCode.FUTURE_RESPONSE: "freshness",
    ErrorCode.NONCE_MISMATCH: "nonce",
    ErrorCode.NONCE_MISSING: "nonce",
}
_PASS, _WARN = StepOutcome.PASS, StepOutcome.WARN


def _validate(
    der: bytes,
    ctx: CheckContext,
    prep: Prepared,
    steps: list[Step],
    warnings: list[str],
    found: dict[str, Any],
) -> None:
    """Fill ``found`` with the evidence's fields; ``steps`` and ``warnings`` as it goes."""

    def warn(name: str, detail: str) -> None:
        warnings.append(detail)
        steps.append(Step(name, _WARN, detail))

    # Step 1 — responseStatus (RFC 6960 2.3). Error statuses are unsigned: never a status.
    parsed, embedded = read(der)
    if parsed.status_code != 0:
        code = status_error(parsed.status_code)
        if code is None:  # 4 is unused, > 6 undefined: malformed (mozilla, BoringSSL)
            raise CheckFailure(
                ErrorCode.MALFORMED_RESPONSE, f"responseStatus {parsed.status_code} is undefined"
            )
        raise CheckFailure(code, f"responseStatus {parsed.status_name} (unsigned, RFC 6960 2.3)")
    found["responder_id"] = parsed.responder_id_text
    found["produced_at"] = parsed.produced_at
    steps.append(Step.deferred("response", _PASS, lambda: _response_detail(parsed)))
    if parsed.version != 0:
        # RFC 6960 4.2.1 defines v1 (0) only; a later version is read as v1, and said.
        warn(
            "response",
            f"ResponseData version v{parsed.version + 1} ({parsed.version}): "
            "RFC 6960 4.2.1 defines only v1 (0); read as v1",
        )
    if parsed.unreadable_certs:
        warn("response", f"{parsed.unreadable_certs} embedded certificate(s) unreadable, ignored")

    # Step 2 — who signed it: DTM, then TRP (RFC 6960 4.2.2.2).
    accepted = find_signer(parsed, embedded, prep, ctx)
    signer = accepted.signer
    subject = signer.subject()
    model = accepted.model.value
    found["trusted_by"] = accepted.model
    found["signer_subject"] = subject
    found["signer_fingerprint"] = signer.fingerprint
    found["delegated_responder"] = accepted.delegated
    steps.append(
        Step.deferred(
            "signer", _PASS, lambda: f"{model}: {subject}, {accepted.how}; signature verifies"
        )
    )
    for warning in accepted.warnings:
        warn("signer", warning)

    # Step 3 — content. A model accepted the signer: from here on failures are final.
    steps.append(Step.deferred("extensions", _PASS, check_extensions(parsed)))
    single, detail, cert_id_warnings = select(parsed, ctx, prep)
    found["cert_id_hash"] = single.cert_id.hash_algorithm
    found["this_update"] = single.this_update
    found["next_update"] = single.next_update
    steps.append(Step.deferred("cert-id", _PASS, detail))
    for warning in cert_id_warnings:
        warn("cert-id", warning)
    steps.append(Step.deferred("freshness", _PASS, check_freshness(single, ctx)))
    try:
        nonce, outcome, nonce_detail = check_nonce(parsed, ctx)
    except CheckFailure as failure:
        mismatch = failure.code is ErrorCode.NONCE_MISMATCH
        found["nonce"] = NonceState.MISMATCH if mismatch else NonceState.MISSING
        raise
    if outcome is _WARN:
        warn("nonce", nonce_detail)
    else:
        steps.append(Step("nonce", outcome, nonce_detail))
    steps.append(Step.deferred("cert-status", _PASS, lambda: status_detail(single)))
    found["status"] = single.status
    found["reason"] = single.reason
    found["revocation_time"] = single.revocation_time
    found["nonce"] = nonce
    found["message"] = f"{single.status.value}, signed by {subject} ({model})"


def _response_detail(parsed: ParsedResponse) -> str:
    return (
        f"successful, {len(parsed.singles)} SingleResponse(s), ResponderID "
        f"{parsed.responder_id_text}, producedAt {fmt(parsed.produced_at)}, "
        f"{len(parsed.certs)} certificate(s) embedded"
    )


def explain_unverified(der: bytes, ctx: CheckContext) -> tuple[Step, ...]:
    """The content steps run on an answer whose signer was *not* accepted, each on its own.

    For teaching and field captures only (``inspect``): what the answer would
    have said. It never becomes evidence; the validator stops at the signer.
    """
    try:
        parsed = parse_response(der)
    except CheckFailure:
        return ()
    if parsed.status_code != 0:
        return ()
    prep = ctx.prepared
    steps: list[Step] = []

    def run(name: str, check: Callable[[], str]) -> None:
        try:
            steps.append(Step(name, StepOutcome.PASS, check()))
        except CheckFailure as failure:
            steps.append(Step(name, StepOutcome.FAIL, f"{failure.code.value}: {failure.message}"))

    run("extensions", lambda: check_extensions(parsed)())
    try:
        single, detail, _ = select(parsed, ctx, prep)
    except CheckFailure as failure:
        steps.append(Step("cert-id", StepOutcome.FAIL, f"{failure.code.value}: {failure.message}"))
        return tuple(steps)
    steps.append(Step("cert-id", StepOutcome.PASS, detail()))
    run("freshness", lambda: check_freshness(single, ctx)())
    run("nonce", lambda: check_nonce(parsed, ctx)[2])
    steps.append(Step("cert-status", StepOutcome.SKIP, status_detail(single) + " (not trusted)"))
    return tuple(steps)
