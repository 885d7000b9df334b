"""responder/der.py against asn1crypto's own classes: the same bytes for every length.

The header memo must not change a byte: the length octets switch form at
128 and grow at 256, 65536 (X.690 8.1.3), so lengths around each are drawn.
"""

from __future__ import annotations

from asn1crypto import core
from asn1crypto.parser import emit, parse
from hypothesis import given
from hypothesis import strategies as st

from responder.der import bit_string, explicit, octet_string, sequence

_LENGTHS = st.sampled_from([0, 1, 127, 128, 129, 255, 256, 257, 65535, 65536, 65537])
contents = st.one_of(st.binary(max_size=300), _LENGTHS.map(lambda n: b"\xa5" * n))


@given(contents)
def test_octet_string_is_asn1cryptos(octets: bytes) -> None:
    assert octet_string(octets) == core.OctetString(octets).dump()


@given(contents)
def test_bit_string_is_asn1cryptos(octets: bytes) -> None:
    assert bit_string(octets) == core.OctetBitString(octets).dump()


@given(contents)
def test_sequence_wraps_fields_as_asn1crypto_does(fields: bytes) -> None:
    der = sequence(fields)
    assert der == emit(0, 1, 16, fields)
    parsed = core.Sequence.load(der)
    assert parsed.contents == fields and parsed.tag == 16


@given(st.integers(min_value=0, max_value=30), contents)
def test_explicit_is_a_context_tag_around_the_value(tag: int, inner: bytes) -> None:
    der = explicit(tag, inner)
    assert der == emit(2, 1, tag, inner)
    class_, method, parsed_tag, _, parsed_contents, trailer = parse(der)
    assert (class_, method, parsed_tag, parsed_contents, trailer) == (2, 1, tag, inner, b"")
