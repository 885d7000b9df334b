"""Property tests: no forged answer is ever trusted.

Mutate any byte (or a few, or cut, or insert) of a signed response: the
validator never raises, and never reports a trusted ``good`` unless the signed
bytes (tbsResponseData and the signature) and the signer are those of the
original — a change inside the unsigned ``certs`` field may leave the answer
usable, a change anywhere else may not.

Sign a well-formed answer with a lookalike signer (``tests/lookalikes.py``),
however it is named, embedded and asked about: it is never trusted.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.evidence import CertStatus, CheckFailure, ErrorCode, TrustedBy
from lab.ocsp_request import RequestedCertID
from lab.settings import Delegation
from lab.validator import CheckContext, ValidationOptions, parse_response, validate
from pki import PKI, PKISpec, build_pki
from tests.lookalikes import LOOKALIKE_SPECS, LOOKALIKES, SAME_KEY, same_key_other_name
from tests.ocsp_forge import NOW, Signer, Single, forge

NONCE = b"\x42" * 32


@pytest.fixture(scope="module")
def signed(default_pki: PKI) -> tuple[bytes, bytes, CheckContext]:
    server = default_pki["server"].certificate
    intermediate = default_pki["intermediate"].certificate
    chain = [default_pki["responder"].certificate, intermediate, default_pki["root"].certificate]
    good = forge(
        signer=default_pki["responder"],
        singles=[Single(server, intermediate)],
        certs=chain,
        nonce=NONCE,
    )
    revoked = forge(
        signer=default_pki["responder"],
        singles=[Single(server, intermediate, status="revoked", reason="keyCompromise")],
        nonce=NONCE,
    )
    context = CheckContext(
        now=NOW,
        cert=server,
        issuer=intermediate,
        requested=RequestedCertID.for_cert(server, intermediate),
        nonce=NONCE,
        trust=(default_pki["root"].certificate,),
    )
    return good, revoked, context


def _mutate(der: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(der)
    for position, xor in edits:
        data[position % len(data)] ^= xor
    return bytes(data)


def _intact(original: bytes, mutated: bytes) -> bool:
    try:
        a, b = parse_response(original), parse_response(mutated)
    except CheckFailure:
        return False
    return (a.tbs_der, a.signature, a.signature_algorithm, a.signature_hash) == (
        b.tbs_der,
        b.signature,
        b.signature_algorithm,
        b.signature_hash,
    )


_edits = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1 << 16), st.integers(1, 255)),
    min_size=1,
    max_size=3,
)
_settings = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_settings
@given(edits=_edits)
def test_mutated_response_never_trusted_good_unless_intact(
    signed: tuple[bytes, bytes, CheckContext], edits: list[tuple[int, int]]
) -> None:
    good, _, context = signed
    mutated = _mutate(good, edits)
    evidence = validate(mutated, context)
    if evidence.status is CertStatus.GOOD:
        assert evidence.trusted_by is TrustedBy.DTM
        assert _intact(good, mutated), "a trusted good from altered signed bytes"
        assert evidence.signer_subject == "CN=responder,O=ocsp-lab"


@_settings
@given(edits=_edits)
def test_mutated_revoked_response_never_becomes_good(
    signed: tuple[bytes, bytes, CheckContext], edits: list[tuple[int, int]]
) -> None:
    _, revoked, context = signed
    evidence = validate(_mutate(revoked, edits), context)
    assert evidence.status in (CertStatus.REVOKED, CertStatus.ERROR)


@_settings
@given(cut=st.integers(min_value=0, max_value=4096), insert=st.binary(min_size=0, max_size=8))
def test_cut_or_padded_response_is_never_trusted_good_unless_intact(
    signed: tuple[bytes, bytes, CheckContext], cut: int, insert: bytes
) -> None:
    good, _, context = signed
    position = cut % (len(good) + 1)
    mutated = good[:position] + insert + good[position + (0 if insert else 1) :]
    evidence = validate(mutated, context)
    if evidence.status is CertStatus.GOOD:
        assert _intact(good, mutated)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_never_raise_or_trust(body: bytes) -> None:
    context = CheckContext(now=NOW)
    evidence = validate(body, context)
    assert evidence.status is CertStatus.ERROR


# ---- lookalike signers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def lookalike_lab() -> PKI:
    return build_pki(PKISpec.with_defaults(LOOKALIKE_SPECS))


_TRUSTED_EXTRAS = ("intermediate", "responder", "trusted-responder", "root-responder")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    signer=st.sampled_from([*sorted(LOOKALIKES), SAME_KEY]),
    by_name=st.booleans(),
    embed=st.sampled_from(["signer", "chain", "none"]),
    status=st.sampled_from(["good", "revoked"]),
    hash_algorithm=st.sampled_from(["sha1", "sha256"]),
    delegation=st.sampled_from(list(Delegation)),
    trusted=st.sets(st.sampled_from(_TRUSTED_EXTRAS)),
    nonce=st.booleans(),
)
def test_a_lookalike_signer_is_never_trusted(
    lookalike_lab: PKI,
    signer: str,
    by_name: bool,
    embed: str,
    status: str,
    hash_algorithm: str,
    delegation: Delegation,
    trusted: set[str],
    nonce: bool,
) -> None:
    """RFC 6960 4.2.2.2: a signature that verifies is not enough, the signer must be authorized.

    Whatever the trust store holds besides the lookalike (CAs, real responders),
    the answer is refused at the signer step: no status, no trusted_by.
    """
    lab = lookalike_lab
    server, intermediate = lab["server"].certificate, lab["intermediate"].certificate
    forged: Signer = same_key_other_name(lab) if signer == SAME_KEY else lab[signer]
    if signer == SAME_KEY:
        by_name = True  # byKey names the CA's key: the CA itself then signed (see the rules)
    chain = [forged.certificate, intermediate, lab["root"].certificate]
    if signer == "lookalike-sibling-responder":
        chain.insert(1, lab["lookalike-sibling-ca"].certificate)
    certs = {"signer": [forged.certificate], "chain": chain, "none": []}[embed]
    der = forge(
        signer=forged,
        singles=[Single(server, intermediate, status=status, hash_algorithm=hash_algorithm)],
        certs=certs,
        responder_id="name" if by_name else "key",
        nonce=NONCE if nonce else None,
    )
    context = CheckContext(
        now=NOW,
        cert=server,
        issuer=intermediate,
        requested=RequestedCertID.for_cert(server, intermediate, hash_algorithm),
        nonce=NONCE if nonce else None,
        trust=(lab["root"].certificate, *(lab[t].certificate for t in sorted(trusted))),
        path=(lab["root"].certificate,),
        options=ValidationOptions(delegation=delegation),
    )
    evidence = validate(der, context)
    assert evidence.trusted_by is TrustedBy.NONE, evidence.message
    assert evidence.status is CertStatus.ERROR
    assert evidence.error in (ErrorCode.SIGNER_NOT_AUTHORIZED, ErrorCode.BAD_SIGNATURE)
