"""What Unified CM would do with an answer the served responder sent: the status page's judge.

``serve`` installs :func:`answer_judge` into the responder (``create_app(judge=…)``):
the responder never imports the lab (DESIGN.md, data flows one way). For one
request-log entry it runs the lab's validator on the very bytes that were
sent, against the request that was asked (its CertID and nonce, when the log
kept its bytes), at the responder's clock of that moment, with the scenario's
trust store; then the policy table in Common Criteria ON and OFF. Each
decision comes with one sentence: the trust model that accepted the signer,
and the policy row that decided.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lab.evidence import Evidence, TrustedBy
from lab.ocsp_request import OCSPRequest
from lab.policy import Verdict, decide
from lab.settings import ClientSettings
from lab.validator import CheckContext, ValidationOptions, validate
from pki import PKI, IssuedCert
from pki.certid import CertID, issuer_hashes
from responder.app import AnswerJudge
from responder.requestlog import RequestLogEntry

__all__ = ["answer_judge", "trust_sentence"]


def _plain(when: dt.datetime | None) -> str | None:
    return None if when is None else when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def trust_sentence(evidence: Evidence) -> str:
    """Which model accepted the signer, in one sentence (DESIGN.md, "Who signed it")."""
    signer = evidence.signer_subject or "the signer"
    if evidence.trusted_by is TrustedBy.DTM:
        how = (
            "a delegated responder of the certificate's CA (its certificate carries "
            "id-kp-OCSPSigning and was issued by that CA)"
            if evidence.delegated_responder
            else "the certificate's CA itself"
        )
        return f"Delegated Trust Model: {signer} is {how}."
    if evidence.trusted_by is TrustedBy.TRP:
        return f"Trusted Responder: {signer} is in the client's trust store as an OCSP signer."
    if evidence.signer_subject:
        return f"No trust model accepted {signer}: {evidence.message or 'see the steps'}."
    return f"No signer to trust: {evidence.message or 'the answer carries no signature'}."


def _decision(verdict: Verdict) -> dict[str, Any]:
    soft = " (let through only because soft fail is on)" if verdict.soft_failed else ""
    return {
        "decision": verdict.decision.value,
        "row": verdict.row.value,
        "sentence": f"policy row '{verdict.row.value}': {verdict.why}{soft}.",
    }


def _issuer_of(pki: PKI, cert_id: CertID) -> IssuedCert | None:
    """The lab CA whose name and key hashes a CertID carries (RFC 6960 4.1.1), if any."""
    for ca in pki.cas():
        try:
            hashes = issuer_hashes(ca.certificate, cert_id.hash_algorithm)
        except ValueError:  # a hash the lab does not compute: no CA is named by it
            return None
        if hashes == (cert_id.issuer_name_hash, cert_id.issuer_key_hash):
            return ca
    return None


def answer_judge(pki: PKI, client: ClientSettings | None = None) -> AnswerJudge:
    """The judge for answers of ``pki``'s responder, as ``client`` (a scenario's) would."""
    client = client or ClientSettings()
    trust = tuple(pki[name].certificate for name in client.trust if name in pki)
    options = ValidationOptions(
        strict_cert_id=client.strict_cert_id,
        require_nonce=client.require_nonce,
        clock_skew=client.clock_skew,
        delegation=client.delegation,
    )

    def judge(entry: RequestLogEntry) -> dict[str, Any]:
        if entry.response_der is None:
            return {"error": "Nothing to judge: no answer was sent, or it was too big to keep."}
        name = next((n for n in entry.names if n is not None and n in pki), None)
        cert = pki[name] if name is not None else None
        issuer_name = cert.issuer if cert is not None else None
        issuer = pki[issuer_name] if issuer_name is not None and issuer_name in pki else None
        request = None
        if entry.request_der is not None:
            try:
                request = OCSPRequest.parse(entry.request_der)
            except ValueError:
                request = None  # unreadable: the validator checks without it
        if issuer is None and request is not None:
            # Not a certificate of the PKI (one signed from a CSR, say): its CertID names the CA.
            issuer = _issuer_of(pki, request.cert_id)
        context = CheckContext(
            now=entry.at,
            cert=cert.certificate if cert is not None else None,
            issuer=issuer.certificate if issuer is not None else None,
            requested=request.cert_id if request is not None else None,
            nonce=request.nonce if request is not None else None,
            trust=trust,
            options=options,
        )
        evidence = validate(entry.response_der, context)
        return {
            "status": evidence.status.value,
            "reason": evidence.reason,
            "signer": evidence.signer_subject,
            "trusted_by": evidence.trusted_by.value,
            "trust": trust_sentence(evidence),
            "this_update": _plain(evidence.this_update),
            "next_update": _plain(evidence.next_update),
            "nonce": evidence.nonce.value,
            "message": evidence.message,
            "cc_on": _decision(decide(evidence, client.policy(True))),
            "cc_off": _decision(decide(evidence, client.policy(False))),
            "steps": [step.to_json() for step in evidence.steps],
        }

    return judge
