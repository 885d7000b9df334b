"""Enclosing DER TLVs around already-encoded contents, written by asn1crypto's encoder.

Building asn1crypto objects only to wrap bytes costs ~2 µs each; its encoder
(``asn1crypto.parser.emit``) writes the same tag and length (X.690 8.1) in
under one. The functions here do that. :class:`DerWriter` does the same and
remembers, for its owner, the header it wrote for a given tag and contents
length: ~0.15 µs a TLV. A :class:`~responder.signing.Signer` owns one for the
hot path (signing a response); everything with fields of its own is still
built by asn1crypto classes.
"""

from __future__ import annotations

from asn1crypto.parser import emit

__all__ = ["DerWriter", "bit_string", "explicit", "octet_string", "sequence"]

# (class, constructed?, tag) of each ASN.1 type used (X.690 8.1.2, X.680 8.4)
_UNIVERSAL, _CONTEXT = 0, 2
_PRIMITIVE, _CONSTRUCTED = 0, 1
_BIT_STRING, _OCTET_STRING, _SEQUENCE = 3, 4, 16


def sequence(fields: bytes) -> bytes:
    """SEQUENCE around its fields' DER."""
    return bytes(emit(_UNIVERSAL, _CONSTRUCTED, _SEQUENCE, fields))


def octet_string(octets: bytes) -> bytes:
    """OCTET STRING of ``octets``."""
    return bytes(emit(_UNIVERSAL, _PRIMITIVE, _OCTET_STRING, octets))


def explicit(tag: int, der: bytes) -> bytes:
    """``[tag] EXPLICIT`` around one value's DER."""
    return bytes(emit(_CONTEXT, _CONSTRUCTED, tag, der))


def bit_string(octets: bytes) -> bytes:
    """BIT STRING of whole octets (a signature)."""
    # X.690 8.6.2: the first contents octet counts the unused bits of the last: none.
    return bytes(emit(_UNIVERSAL, _PRIMITIVE, _BIT_STRING, b"\x00" + octets))


class DerWriter:
    """The functions above, with the headers written remembered (at most ``max_headers``)."""

    def __init__(self, max_headers: int = 2048) -> None:
        self._headers: dict[tuple[int, int, int, int], bytes] = {}
        self._max = max_headers

    def _header(self, class_: int, method: int, tag: int, length: int) -> bytes:
        """The identifier and length octets asn1crypto writes before ``length`` contents octets."""
        key = (class_, method, tag, length)
        header = self._headers.get(key)
        if header is None:
            # The header depends on the contents' length only (X.690 8.1.3), so encoding
            # zeros of that length and keeping what precedes them gives the same bytes.
            der = emit(class_, method, tag, bytes(length))
            header = bytes(der[: len(der) - length])
            if len(self._headers) >= self._max:
                self._headers.clear()  # lengths repeat: the next few requests refill it
            self._headers[key] = header
        return header

    def sequence(self, fields: bytes) -> bytes:
        """SEQUENCE around its fields' DER."""
        return self._header(_UNIVERSAL, _CONSTRUCTED, _SEQUENCE, len(fields)) + fields

    def octet_string(self, octets: bytes) -> bytes:
        """OCTET STRING of ``octets``."""
        return self._header(_UNIVERSAL, _PRIMITIVE, _OCTET_STRING, len(octets)) + octets

    def explicit(self, tag: int, der: bytes) -> bytes:
        """``[tag] EXPLICIT`` around one value's DER."""
        return self._header(_CONTEXT, _CONSTRUCTED, tag, len(der)) + der

    def bit_string(self, octets: bytes) -> bytes:
        """BIT STRING of whole octets (a signature)."""
        return self._header(_UNIVERSAL, _PRIMITIVE, _BIT_STRING, len(octets) + 1) + b"\x00" + octets
