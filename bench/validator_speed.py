"""Validator checks per second, in-process, one core, against a floor measured in the same run.

A check is :func:`lab.validate.validate` on a response signed by the
delegated responder (its certificate embedded, nonce echoed): parse, find
and authorise the signer (DTM), verify, match the CertID, check times and
nonce, and :func:`lab.policy.decide`. The floor is what cryptography alone
needs for the same bytes: ``load_der_ocsp_response`` + verify the response
signature + verify the responder certificate against the issuing CA. Goal:
within 1.5× of the floor.

"warm" is the steady state of a client that sees the same responder
certificate again (the validator memoises pure per-certificate facts keyed by
the certificate's bytes: its issuer signature check, EKU, key hash); "cold"
clears those memos before every check, so every signature is verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from bench.report import Figure
from lab import validate as validate_module
from lab.evidence import CertStatus, TrustedBy
from lab.ocsp_request import RequestedCertID
from lab.policy import Policy, decide
from lab.validate import CheckContext, validate
from pki import KeyType, PKISpec, build_pki
from tests.ocsp_forge import NOW, Single, forge

SECTION = "Validator speed (in-process, one core)"
_NONCE = b"\x11" * 32
_CACHES = (
    "_key_hash",
    "_name_hash",
    "_der",
    "_spki",
    "_has_ocsp_signing",
    "_has_nocheck",
    "_issued_directly_by",
    "_asn1_subject",
    "_readable",
    "_same_subject",
    "_subject",
)


def _per_second(action: Callable[[], object], seconds: float = 1.0) -> float:
    """Checks per second: the best of three timed batches (least disturbed by the machine)."""
    action()
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            action()
            count += 1
        best = max(best, count / elapsed)
    return best


def _clear_caches() -> None:
    for name in _CACHES:
        getattr(validate_module, name).cache_clear()


def _figures(key: KeyType) -> list[Figure]:
    lab_pki = build_pki(PKISpec(key=key))
    server, issuer = lab_pki["server"].certificate, lab_pki["intermediate"].certificate
    der = forge(signer=lab_pki["responder"], singles=[Single(server, issuer)], nonce=_NONCE)
    context = CheckContext(
        now=NOW,
        cert=server,
        issuer=issuer,
        requested=RequestedCertID.for_cert(server, issuer),
        nonce=_NONCE,
        trust=(lab_pki["root"].certificate,),
    )
    policy = Policy(common_criteria=True)
    evidence = validate(der, context)
    assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)

    def floor() -> None:
        response = ocsp.load_der_ocsp_response(der)
        signer = response.certificates[0]
        public_key = signer.public_key()
        algorithm = response.signature_hash_algorithm
        assert algorithm is not None
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        signer.verify_directly_issued_by(issuer)

    def warm() -> None:
        decide(validate(der, context), policy)

    def cold() -> None:
        _clear_caches()
        decide(validate(der, context), policy)

    floor_rate = _per_second(floor)
    warm_rate = _per_second(warm)
    cold_rate = _per_second(cold)
    name = key.value
    return [
        Figure(
            SECTION,
            f"{name}: floor (cryptography: parse + 2 verifies)",
            f"{floor_rate:,.0f}/s",
            note=f"{1e6 / floor_rate:.0f} µs",
        ),
        Figure(
            SECTION,
            f"{name}: validate + decide, warm",
            f"{warm_rate:,.0f}/s",
            goal="≤ 1.5× floor time",
            note=f"{floor_rate / warm_rate:.2f}× floor time",
        ),
        Figure(
            SECTION,
            f"{name}: validate + decide, cold memos",
            f"{cold_rate:,.0f}/s",
            goal="≤ 1.5× floor time",
            note=f"{floor_rate / cold_rate:.2f}× floor time",
        ),
    ]


def run() -> list[Figure]:
    return _figures(KeyType.EC_P256) + _figures(KeyType.RSA_2048)
