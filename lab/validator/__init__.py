"""Judge an OCSP response: bytes and context in, :class:`~lab.evidence.Evidence` out.

Pure: no I/O, no clock (``now`` is part of the context), so every rule is
testable on bytes alone. The steps, in the order of DESIGN.md's revocation
model, each a module of this package:

1. **response** (:mod:`.response`) — responseStatus (RFC 6960 4.2.1);
   ``successful`` must carry a BasicOCSPResponse (id-pkix-ocsp-basic).
2. **signer** (:mod:`.signer`, :mod:`.certsig`) — who signed it: the Delegated
   Trust Model, then the Trusted Responder model (RFC 6960 4.2.2.2).
3. **content** (:mod:`.content`) — final once a model accepted the signer:
   critical extensions, CertID match, freshness, nonce.

:mod:`.facts` holds what is read of each certificate once; :mod:`.context`
what the caller tells; :mod:`.pipeline` runs the steps (:func:`validate`).
"""

from __future__ import annotations

from lab.validator.context import CheckContext, ValidationOptions
from lab.validator.facts import cert_validity, clear_memos, subject_public_key_bits
from lab.validator.pipeline import explain_unverified, validate
from lab.validator.response import (
    ParsedResponse,
    SingleResponse,
    parse_response,
    parse_response_asn1,
)

__all__ = [
    "CheckContext",
    "ParsedResponse",
    "SingleResponse",
    "ValidationOptions",
    "cert_validity",
    "clear_memos",
    "explain_unverified",
    "parse_response",
    "parse_response_asn1",
    "subject_public_key_bits",
    "validate",
]
