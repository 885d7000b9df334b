"""How the lab responder answers, and how it misbehaves, as frozen data.

The scenario loader fills these from ``[responder]`` and
``[responder.faults]`` (SCENARIOS.md); the responder applies them. Faults are
data applied at one seam (:mod:`responder.faults`), never ``if`` statements in
the protocol code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

__all__ = [
    "BodyFault",
    "CertIdFault",
    "CertsIncluded",
    "Faults",
    "NonceFault",
    "NotFound",
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


#: responseStatus names of RFC 6960 4.2.1 that a fault may force (not successful).
FAULT_STATUSES = ("malformedRequest", "internalError", "tryLater", "sigRequired", "unauthorized")
#: certStatus values a fault may force.
FAULT_ANSWERS = ("good", "revoked", "unknown")
#: What a ``content_type`` fault may be: an HTTP field value of visible ASCII and
#: spaces (RFC 9110 5.5, without obs-text) — no CR/LF to split the header with.
HEADER_VALUE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True)
class Faults:
    """``[responder.faults]``: each off (None/False) by default."""

    down: bool = False
    delay: dt.timedelta | None = None
    http_status: int | None = None
    content_type: str | None = None
    body: BodyFault | None = None
    status: str | None = None  # one of FAULT_STATUSES
    answer: str | None = None  # one of FAULT_ANSWERS
    signature_corrupt: bool = False  # signature = "corrupt"
    this_update: dt.timedelta | None = None  # offset from now
    next_update: dt.timedelta | None = None  # offset from now
    nonce: NonceFault | None = None
    cert_id: CertIdFault | None = None
    critical_extension: bool = False
    responder_id_wrong: bool = False  # responder_id = "wrong"

    @cached_property
    def any(self) -> bool:
        """Whether any fault is on (asked on every request: computed once per value)."""
        return self != Faults()


@dataclass(frozen=True)
class ResponderConfig:
    """``[responder]``: who signs, what goes in the answer."""

    signer: str | None = None  # one signer for every answer
    signers: Mapping[str, str] = field(default_factory=dict)  # issuing CA -> signer
    certs: CertsIncluded = CertsIncluded.SIGNER
    responder_id: ResponderIdKind = ResponderIdKind.KEY
    next_update: dt.timedelta | None = dt.timedelta(days=1)  # None: omit nextUpdate
    not_found: NotFound = NotFound.UNKNOWN
    faults: Faults = Faults()
