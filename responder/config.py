"""How the lab responder answers, and how it misbehaves, as frozen data.

The scenario loader fills these from ``[responder]`` and
``[responder.faults]`` (SCENARIOS.md); the responder applies them. Faults are
data applied at one seam (:mod:`responder.faults`), never ``if`` statements in
the protocol code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from cryptography.x509.ocsp import OCSPResponseStatus

from pki.spec import SignatureHash

__all__ = [
    "TRANSPORT_FAULTS",
    "BodyFault",
    "CertIdFault",
    "CertsIncluded",
    "Faults",
    "NonceFault",
    "NotFound",
    "RawNonceFault",
    "ResponderConfig",
    "ResponderIdKind",
]


class CertsIncluded(StrEnum):
    """Which certificates go in BasicOCSPResponse.certs (RFC 6960 4.2.1)."""

    NONE = "none"
    SIGNER = "signer"
    CHAIN = "chain"  # the signer and its issuers


class ResponderIdKind(StrEnum):
    """RFC 6960 4.2.1 ResponderID choice."""

    KEY = "key"
    NAME = "name"


class NotFound(StrEnum):
    """The answer for a certificate the responder has no record of."""

    UNKNOWN = "unknown"
    GOOD = "good"
    REVOKED = "revoked"
    UNAUTHORIZED = "unauthorized"  # unsigned unauthorized responseStatus


class BodyFault(StrEnum):
    EMPTY = "empty"
    GARBAGE = "garbage"
    TRUNCATED = "truncated"


class NonceFault(StrEnum):
    OMIT = "omit"
    WRONG = "wrong"


class CertIdFault(StrEnum):
    WRONG_SERIAL = "wrong-serial"
    WRONG_ISSUER = "wrong-issuer"
    SHA256 = "sha256"
    SHA1 = "sha1"


class RawNonceFault(StrEnum):
    """What becomes of a nonce sent raw (extnValue the nonce itself, no OCTET STRING)."""

    REFUSE = "refuse"  # malformedRequest, as strict RFC 6960 4.4.1 / RFC 9654 responders do


@dataclass(frozen=True)
class Faults:
    """``[responder.faults]``: each off (None/False) by default.

    The keys, values and words of each field are in :mod:`responder.fault_table`.
    """

    down: bool = False
    delay: dt.timedelta | None = None
    http_status: int | None = None
    content_type: str | None = None
    body: BodyFault | None = None
    status: OCSPResponseStatus | None = None  # never SUCCESSFUL
    answer: str | None = None  # a responder.signing.CertStatus value
    signature_corrupt: bool = False  # signature = "corrupt"
    this_update: dt.timedelta | None = None  # offset from now
    next_update: dt.timedelta | None = None  # offset from now
    nonce: NonceFault | None = None
    cert_id: CertIdFault | None = None
    critical_extension: bool = False
    responder_id_wrong: bool = False  # responder_id = "wrong"
    raw_nonce: RawNonceFault | None = None

    @cached_property
    def any(self) -> bool:
        """Whether any fault is on (asked on every request: computed once per value)."""
        return self != Faults()


#: The :class:`Faults` fields that bend only the HTTP exchange: all that applies to a replay.
TRANSPORT_FAULTS = ("down", "delay", "http_status", "content_type")


@dataclass(frozen=True)
class ResponderConfig:
    """``[responder]``: who signs, what goes in the answer."""

    signer: str | None = None  # one signer for every answer
    signers: Mapping[str, str] = field(default_factory=dict)  # issuing CA -> signer
    certs: CertsIncluded = CertsIncluded.SIGNER
    responder_id: ResponderIdKind = ResponderIdKind.KEY
    next_update: dt.timedelta | None = dt.timedelta(days=1)  # None: omit nextUpdate
    not_found: NotFound = NotFound.UNKNOWN
    #: ``signature_hash``: the hash of the answers' signatures; None: by the signer's key
    #: (SHA-256, SHA-384 for P-384). An Ed25519 signer has its own (RFC 8032 5.1.6).
    signature_hash: SignatureHash | None = None
    faults: Faults = Faults()
    #: ``replay``: a captured OCSPResponse (DER) served for every request, byte for byte
    #: (:mod:`responder.replay`); only the transport faults apply. None: answer from the database.
    replay: bytes | None = None
    #: ``index``: per issuing CA, an OpenSSL CA database (index.txt) whose lines the
    #: responder also answers (:mod:`responder.index_state`); a record of the lab's wins.
    index: Mapping[str, Path] = field(default_factory=dict)
