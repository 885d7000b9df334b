"""Validator checks per second, in-process, one core, against a floor measured in the same run.

A check is :func:`lab.validator.validate` on a response signed by the
delegated responder (its certificate embedded, a fresh nonce echoed, a fresh
:class:`~lab.validator.CheckContext` as :mod:`lab.chain_check` makes one per
check): parse, find and authorise the signer (DTM), verify, match the CertID,
check times and nonce, and :func:`lab.policy.decide`. The floor is what
cryptography alone needs for the same bytes: ``load_der_ocsp_response`` +
verify the response signature + verify the responder certificate against the
issuing CA. Goal: within 1.5× of the floor.

Three kinds of check, each over its own pool of distinct responses:

- **repeat**: the responder certificate was seen before (the steady state of a
  client: one responder answers again and again). The validator memoises pure
  facts of a certificate keyed by its bytes — whether the CA's key verifies it,
  EKU, key hash, subject — so it verifies one signature where the floor
  verifies two.
- **first-time**: every response carries a responder certificate never seen
  before (same CA, same key, new serial): both signatures are verified, as in
  the floor. The CA's and the trust store's facts are known.
- **cold**: every memo is cleared before each check: even the CA's facts are
  worked out again (a fresh process).

Rounds interleave floor and validator batches over the same bytes, so a
disturbance of the (shared) machine touches both; each figure is the median
of the rounds, and the ratio the median of the per-round ratios.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import statistics
import time
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from bench.report import Figure
from lab.evidence import CertStatus, TrustedBy
from lab.ocsp_request import RequestedCertID
from lab.policy import Policy, decide
from lab.validator import CheckContext, clear_memos, validate
from pki import PKI, IssuedCert, KeyType, PKISpec, build_pki
from tests.ocsp_forge import NOW, Single, forge

SECTION = "Validator speed (in-process, one core)"
#: Distinct responses per pool (each check of a batch sees another response).
POOL = int(os.environ.get("BENCH_VALIDATOR_POOL", "200"))
#: Interleaved rounds; every figure is the median over them.
ROUNDS = int(os.environ.get("BENCH_VALIDATOR_ROUNDS", "9"))


def _new_responder(lab_pki: PKI, serial: int) -> IssuedCert:
    """The delegated responder again, with another serial: other bytes, same key and CA."""
    responder, ca = lab_pki["responder"], lab_pki["intermediate"]
    old = responder.certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(serial)
        .not_valid_before(old.not_valid_before_utc)
        .not_valid_after(old.not_valid_after_utc)
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    certificate = builder.sign(ca.private_key, hashes.SHA256())  # EC and RSA CAs only
    return dataclasses.replace(responder, certificate=certificate)


@dataclasses.dataclass(frozen=True)
class _Pool:
    ders: tuple[bytes, ...]
    nonces: tuple[bytes, ...]


def _pool(lab_pki: PKI, signers: Sequence[IssuedCert]) -> _Pool:
    server, issuer = lab_pki["server"].certificate, lab_pki["intermediate"].certificate
    nonces = tuple(i.to_bytes(4, "big") * 8 for i in range(len(signers)))
    ders = tuple(
        forge(signer=signer, singles=[Single(server, issuer)], nonce=nonce)
        for signer, nonce in zip(signers, nonces, strict=True)
    )
    return _Pool(ders, nonces)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _figures(key: KeyType) -> list[Figure]:
    lab_pki = build_pki(PKISpec(key=key))
    server, issuer = lab_pki["server"].certificate, lab_pki["intermediate"].certificate
    requested = RequestedCertID.for_cert(server, issuer)
    trust = (lab_pki["root"].certificate,)
    policy = Policy(common_criteria=True)
    repeat = _pool(lab_pki, [lab_pki["responder"]] * POOL)
    first = _pool(lab_pki, [_new_responder(lab_pki, 10_000 + i) for i in range(POOL)])

    def contexts(pool: _Pool) -> list[CheckContext]:
        return [
            CheckContext(
                now=NOW, cert=server, issuer=issuer, requested=requested, nonce=n, trust=trust
            )
            for n in pool.nonces
        ]

    every = zip(first.ders + repeat.ders, contexts(first) + contexts(repeat), strict=True)
    for der, context in every:
        evidence = validate(der, context)
        assert (evidence.status, evidence.trusted_by) == (CertStatus.GOOD, TrustedBy.DTM)

    def floor(pool: _Pool) -> Callable[[], None]:
        def run() -> None:
            for der in pool.ders:
                response = ocsp.load_der_ocsp_response(der)
                signer = response.certificates[0]
                public_key = signer.public_key()
                algorithm = response.signature_hash_algorithm
                assert algorithm is not None
                if isinstance(public_key, ec.EllipticCurvePublicKey):
                    public_key.verify(
                        response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm)
                    )
                elif isinstance(public_key, rsa.RSAPublicKey):
                    public_key.verify(
                        response.signature,
                        response.tbs_response_bytes,
                        padding.PKCS1v15(),
                        algorithm,
                    )
                signer.verify_directly_issued_by(issuer)

        return run

    def checks(pool: _Pool, checked: list[CheckContext]) -> Callable[[], None]:
        def run() -> None:
            for der, context in zip(pool.ders, checked, strict=True):
                decide(validate(der, context), policy)

        return run

    def cold_checks(pool: _Pool, checked: list[CheckContext]) -> Callable[[], None]:
        def run() -> None:
            for der, context in zip(pool.ders, checked, strict=True):
                clear_memos()
                decide(validate(der, context), policy)

        return run

    samples: dict[str, list[float]] = {k: [] for k in ("floor", "repeat", "first", "cold")}
    ratios: dict[str, list[float]] = {k: [] for k in ("repeat", "first", "cold")}
    validate(repeat.ders[0], contexts(repeat)[0])  # the CA's and the responder's facts known
    for _ in range(ROUNDS):
        floor_time = _timed(floor(first))  # same cost for either pool: parse + 2 verifies
        repeat_time = _timed(checks(repeat, contexts(repeat)))
        floor_time = min(floor_time, _timed(floor(repeat)))
        clear_memos()
        validate(repeat.ders[0], contexts(repeat)[0])  # CA known, the new responders not
        first_time = _timed(checks(first, contexts(first)))
        cold_time = _timed(cold_checks(first, contexts(first)))
        clear_memos()
        validate(repeat.ders[0], contexts(repeat)[0])
        for name, seconds in (
            ("floor", floor_time),
            ("repeat", repeat_time),
            ("first", first_time),
            ("cold", cold_time),
        ):
            samples[name].append(seconds / POOL)
            if name != "floor":
                ratios[name].append(seconds / floor_time)

    def per_check(name: str) -> float:
        return statistics.median(samples[name])

    name = key.value
    figures = [
        Figure(
            SECTION,
            f"{name}: floor (cryptography: parse + 2 verifies)",
            f"{1 / per_check('floor'):,.0f}/s",
            note=f"{per_check('floor') * 1e6:.0f} µs/check, median of {ROUNDS} rounds",
        )
    ]
    labels = {
        "repeat": "repeat check (responder certificate seen before)",
        "first": "first-time responder certificate",
        "cold": "cold (every memo cleared before each check)",
    }
    for kind, label in labels.items():
        ratio = statistics.median(ratios[kind])
        spread = f"{min(ratios[kind]):.2f}–{max(ratios[kind]):.2f}×"
        figures.append(
            Figure(
                SECTION,
                f"{name}: validate + decide, {label}",
                f"{1 / per_check(kind):,.0f}/s",
                goal="≤ 1.5× floor time" if kind != "cold" else "",
                note=(
                    f"{per_check(kind) * 1e6:.0f} µs/check, {ratio:.2f}× floor time "
                    f"(rounds {spread})"
                ),
            )
        )
    return figures


def run() -> list[Figure]:
    started = dt.datetime.now(dt.UTC)
    figures = _figures(KeyType.EC_P256) + _figures(KeyType.RSA_2048)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    figures.append(
        Figure(
            SECTION,
            "conditions",
            f"{POOL} distinct responses per pool, {ROUNDS} interleaved rounds",
            note=f"load average {load:.1f} at the end ({os.cpu_count()} cores), {seconds:.0f} s",
        )
    )
    return figures
