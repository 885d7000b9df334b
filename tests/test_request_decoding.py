"""The two request readers agree: cryptography's (one CertID) and asn1crypto's (any).

``decode_request`` reads the common request with cryptography and hands
everything else to the general asn1crypto reader. Wherever the fast reader
answers, the general one must give the same query — never accept what it
refuses, never read a field differently. Requests are built structurally with
asn1crypto (every field varied, including the ones the fast reader must pass
on) and then also mutated byte by byte.
"""

from __future__ import annotations

import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lab.ocsp_request import OCSPRequest
from pki.certid import CertID
from responder.protocol import (
    MalformedRequest,
    NonceForm,
    decode_any_request,
    decode_request,
    decode_single_request,
    read_nonce,
)

_HASHES = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64, "md5": 16, "sha224": 28}
_NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
_OTHER_OIDS = ["1.3.6.1.5.5.7.48.1.4", "1.3.6.1.5.5.7.48.1.8", "1.2.3.4.5", "2.5.29.99"]


def _cert_id(draw: st.DrawFn) -> dict[str, object]:
    algorithm = draw(st.sampled_from(sorted(_HASHES)))
    size = _HASHES[algorithm]
    hash_bytes = st.one_of(st.binary(min_size=size, max_size=size), st.binary(max_size=70))
    params = draw(st.sampled_from(["null", "absent"]))
    return {
        "hash_algorithm": {"algorithm": algorithm}
        | ({"parameters": core.Null()} if params == "null" else {}),
        "issuer_name_hash": draw(hash_bytes),
        "issuer_key_hash": draw(hash_bytes),
        "serial_number": draw(st.integers(min_value=-(2**70), max_value=2**170)),
    }


def _extension(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        value: bytes = core.OctetString(draw(st.binary(max_size=40))).dump()
        if draw(st.integers(0, 9)) == 0:
            value = draw(st.binary(max_size=40))  # a raw, unwrapped nonce (a known client bug)
        oid = _NONCE_OID
    else:
        value = draw(st.binary(max_size=20))
        oid = draw(st.sampled_from(_OTHER_OIDS))
    # Encoded from its fields: asn1crypto would otherwise parse (and refuse) a known
    # extension's value, and the readers must see the broken ones too.
    fields = core.ObjectIdentifier(oid).dump()
    if draw(st.booleans()):
        fields += core.Boolean(True).dump()
    return bytes(fields + core.OctetString(value).dump())


def _extensions(encoded: list[bytes]) -> asn1_ocsp.TBSRequestExtensions:
    items = b"".join(bytes(asn1_ocsp.TBSRequestExtension(contents=e).dump()) for e in encoded)
    return asn1_ocsp.TBSRequestExtensions(contents=items)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """DER OCSPRequests, mostly well-formed, with every field the readers look at varied."""
    count = draw(st.sampled_from([1, 1, 1, 2, 3, 0]))
    tbs: dict[str, object] = {"request_list": [{"req_cert": _cert_id(draw)} for _ in range(count)]}
    if draw(st.integers(0, 5)) == 0:
        tbs["version"] = draw(st.sampled_from(["v1", 1, 2]))
    fields = bytes(asn1_ocsp.TBSRequest(tbs).contents)
    extensions = draw(st.integers(0, 3))
    if extensions:  # appended as DER, so a broken value is never parsed on the way
        items = _extensions([_extension(draw) for _ in range(extensions)])
        fields += bytes(asn1_ocsp.TBSRequestExtensions(contents=items.contents, explicit=2).dump())
    tbs_der = bytes(asn1_ocsp.TBSRequest(contents=fields).dump())
    der = bytes(asn1_ocsp.OCSPRequest(contents=tbs_der).dump())
    if draw(st.integers(0, 3)) == 0:  # and now break a byte, or cut, or append
        how = draw(st.sampled_from(["flip", "cut", "append"]))
        at = draw(st.integers(0, max(0, len(der) - 1)))
        if how == "flip":
            der = der[:at] + bytes([der[at] ^ draw(st.integers(1, 255))]) + der[at + 1 :]
        elif how == "cut":
            der = der[:at]
        else:
            der += draw(st.binary(min_size=1, max_size=4))
    return der


def _general(der: bytes) -> object:
    try:
        return decode_any_request(der)
    except MalformedRequest:
        return MalformedRequest


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_fast_reader_never_disagrees_with_the_general_one(der: bytes) -> None:
    fast = decode_single_request(der)
    general = _general(der)
    if fast is not None:
        assert general == fast
    assert (decode_request(der) if general is not MalformedRequest else MalformedRequest) == general


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
@example(b"0\x03\x30\x01\x00")
def test_arbitrary_bytes_the_fast_reader_takes_the_general_one_takes_alike(der: bytes) -> None:
    fast = decode_single_request(der)
    if fast is not None:
        assert _general(der) == fast


def _request(cert_ids: int = 1, algorithm: str = "sha1", **tbs: object) -> bytes:
    ids = [
        {"req_cert": {
            "hash_algorithm": {"algorithm": algorithm, "parameters": core.Null()},
            "issuer_name_hash": bytes(range(_HASHES[algorithm])),
            "issuer_key_hash": bytes(reversed(range(_HASHES[algorithm]))),
            "serial_number": 0x1234 + i,
        }}
        for i in range(cert_ids)
    ]  # fmt: skip
    return bytes(asn1_ocsp.OCSPRequest({"tbs_request": {"request_list": ids, **tbs}}).dump())


def _nonce(value: bytes, critical: bool = False) -> dict[str, object]:
    return {"extn_id": _NONCE_OID, "critical": critical, "extn_value": core.OctetString(value)}


def _raw_nonce(value: bytes) -> bytes:
    """A nonce extension's fields with the nonce raw in extnValue (no OCTET STRING inside)."""
    return bytes(core.ObjectIdentifier(_NONCE_OID).dump() + core.OctetString(value).dump())


def test_the_common_request_is_read_by_the_fast_reader() -> None:
    der = _request(request_extensions=[_nonce(b"n" * 32)])
    query = decode_single_request(der)
    assert query is not None
    assert (query.nonce, query.nonce_form) == (b"n" * 32, NonceForm.WRAPPED)
    assert query.cert_ids == (CertID("sha1", bytes(range(20)), bytes(reversed(range(20))), 0x1234),)
    assert decode_any_request(der) == query


@pytest.mark.parametrize(
    ("why", "der"),
    [
        ("two CertIDs", _request(cert_ids=2)),
        ("an unusual hash", _request(algorithm="md5")),
        ("a nonce of 33 octets", _request(request_extensions=[_nonce(b"n" * 33)])),
        ("an empty nonce", _request(request_extensions=[_nonce(b"")])),
        ("two nonces", _request(request_extensions=[_nonce(b"a"), _nonce(b"b")])),
        (
            "an unknown critical extension",
            _request(
                request_extensions=_extensions(
                    [
                        core.ObjectIdentifier("1.2.3.4").dump()
                        + core.Boolean(True).dump()
                        + core.OctetString(b"\x05\x00").dump()
                    ]
                )
            ),
        ),
        (
            "a raw nonce of 33 octets",
            _request(request_extensions=_extensions([_raw_nonce(b"\xaa" * 33)])),
        ),
        (
            "a nonce and another extension",
            _request(
                request_extensions=[
                    _nonce(b"a"),
                    {"extn_id": "1.2.3.4", "critical": False, "extn_value": b"\x05\x00"},
                ]
            ),
        ),
    ],
)
def test_the_rest_goes_to_the_general_reader(why: str, der: bytes) -> None:
    assert decode_single_request(der) is None, why
    general = _general(der)
    if general is MalformedRequest:
        with pytest.raises(MalformedRequest):
            decode_request(der)
    else:
        assert decode_request(der) == general


@pytest.mark.parametrize("raw", [b"\x00", b"\xaa" * 16, b"\x04\x05abc", b"\x30\x00"])
def test_a_raw_nonce_is_read_raw_by_both_readers(raw: bytes) -> None:
    # RFC 6960 4.4.1 left the form open before RFC 9654 2.1; OpenSSL answers it.
    der = _request(request_extensions=_extensions([_raw_nonce(raw)]))
    query = decode_any_request(der)
    assert (query.nonce, query.nonce_form) == (raw, NonceForm.RAW)
    fast = decode_single_request(der)
    assert fast is None or fast == query
    assert decode_request(der) == query


@pytest.mark.parametrize(
    ("extn_value", "expected"),
    [
        (core.OctetString(b"n" * 32).dump(), (b"n" * 32, NonceForm.WRAPPED)),
        (b"n" * 32, (b"n" * 32, NonceForm.RAW)),
        # BER, not DER: constructed, long-form length, trailing data — OpenSSL takes them raw
        (b"\x24\x05\x04\x03abc", (b"\x24\x05\x04\x03abc", NonceForm.RAW)),
        (b"\x04\x81\x03abc", (b"\x04\x81\x03abc", NonceForm.RAW)),
        (b"\x04\x03abcd", (b"\x04\x03abcd", NonceForm.RAW)),
    ],
)
def test_read_nonce_wrapped_only_for_one_der_octet_string(
    extn_value: bytes, expected: tuple[bytes, NonceForm]
) -> None:
    assert read_nonce(extn_value) == expected


@pytest.mark.parametrize("form", list(NonceForm))
def test_a_captured_request_reads_its_nonce_in_either_form(form: NonceForm) -> None:
    # ocsp-lab inspect --request: a product's request, whichever form its nonce takes.
    extension = _raw_nonce(b"\xaa" * 16) if form is NonceForm.RAW else None
    der = (
        _request(request_extensions=_extensions([extension]))
        if extension
        else _request(request_extensions=[_nonce(b"\xaa" * 16)])
    )
    assert OCSPRequest.parse(der).nonce == b"\xaa" * 16
