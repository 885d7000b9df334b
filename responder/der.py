"""Enclosing DER TLVs around already-encoded contents, written by asn1crypto's encoder.

Building asn1crypto objects only to wrap bytes costs ~2 µs each; its encoder
(``asn1crypto.parser.emit``) writes the same tag and length (X.690 8.1) in
under one, and its output for a given tag and contents length, remembered,
in ~0.15 µs. The hot paths (signing a response, checking a request's nonce)
use these; everything with fields of its own is still built by asn1crypto
classes.
"""

from __future__ import annotations

from functools import lru_cache

from asn1crypto.parser import emit

__all__ = ["bit_string", "explicit", "octet_string", "sequence"]

# (class, constructed?, tag) of each ASN.1 type used (X.690 8.1.2, X.680 8.4)
_UNIVERSAL, _CONTEXT = 0, 2
_PRIMITIVE, _CONSTRUCTED = 0, 1
_BIT_STRING, _OCTET_STRING, _SEQUENCE = 3, 4, 16


@lru_cache(maxsize=2048)
def _header(class_: int, method: int, tag: int, length: int) -> bytes:
    """The identifier and length octets asn1crypto writes before ``length`` contents octets."""
    # The header depends on the contents' length only (X.690 8.1.3), so encoding
    # zeros of that length and keeping what precedes them gives the same bytes.
    der = emit(class_, method, tag, bytes(length))
    return bytes(der[: len(der) - length])


def sequence(fields: bytes) -> bytes:
    """SEQUENCE around its fields' DER."""
    return _header(_UNIVERSAL, _CONSTRUCTED, _SEQUENCE, len(fields)) + fields


def octet_string(octets: bytes) -> bytes:
    """OCTET STRING of ``octets``."""
    return _header(_UNIVERSAL, _PRIMITIVE, _OCTET_STRING, len(octets)) + octets


def explicit(tag: int, der: bytes) -> bytes:
    """``[tag] EXPLICIT`` around one value's DER."""
    return _header(_CONTEXT, _CONSTRUCTED, tag, len(der)) + der


def bit_string(octets: bytes) -> bytes:
    """BIT STRING of whole octets (a signature)."""
    # X.690 8.6.2: the first contents octet counts the unused bits of the last: none.
    return _header(_UNIVERSAL, _PRIMITIVE, _BIT_STRING, len(octets) + 1) + b"\x00" + octets
