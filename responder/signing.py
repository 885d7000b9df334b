"""The signing layer: a :class:`ResponseDraft` (plain data) in, a DER OCSPResponse out.

The draft holds everything a BasicOCSPResponse says (RFC 6960 4.2.1) as
values a wrapping layer can ``replace()``: the fault layer bends a draft and
signs it again, the protocol code never knows. asn1crypto builds the
structures; cryptography makes the signature over the DER of
``tbsResponseData``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from asn1crypto import algos as asn1_algos
from asn1crypto import core
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import OCSPExtensionOID

from pki import IssuedCert
from pki.builder import hash_of, signature_hash
from pki.certid import CertID
from pki.spec import REASONS, SignatureHash
from responder.config import CertsIncluded, ResponderIdKind
from responder.der import DerWriter, octet_string
from responder.protocol import NonceForm, read_nonce

__all__ = [
    "CertStatus",
    "Extension",
    "ResponseDraft",
    "Signer",
    "SingleAnswer",
    "nonce_extension",
    "responder_key_hash",
]

NONCE_OID = OCSPExtensionOID.NONCE.dotted_string  # RFC 6960 4.4.1 / RFC 9654
EXTENDED_REVOKE_OID = "1.3.6.1.5.5.7.48.1.9"  # RFC 6960 4.4.8


class CertStatus(StrEnum):
    """RFC 6960 4.2.1 CertStatus choice."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SingleAnswer:
    """One SingleResponse: the CertID as it will be echoed, and what is said of it.

    ``issuer`` is the lab CA the CertID names (None when it names no lab CA):
    a layer that rewrites the CertID with another hash needs it.
    """

    cert_id: CertID
    status: CertStatus
    this_update: dt.datetime
    next_update: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # RFC 5280 CRLReason name; None: no reasonCode
    issuer: IssuedCert | None = None


@dataclass(frozen=True)
class Extension:
    """A response extension: OID, criticality and the DER inside extnValue."""

    oid: str
    value: bytes
    critical: bool = False


@dataclass(frozen=True)
class ResponseDraft:
    """A BasicOCSPResponse before signing (RFC 6960 4.2.1), as plain data."""

    produced_at: dt.datetime
    singles: tuple[SingleAnswer, ...]
    responder_id: ResponderIdKind = ResponderIdKind.KEY
    certs: CertsIncluded = CertsIncluded.SIGNER
    extensions: tuple[Extension, ...] = ()
    #: replaces the ResponderID computed from the signer (a fault's "wrong" one)
    responder_id_override: asn1_ocsp.ResponderId | None = field(default=None, compare=False)

    @property
    def has_nonce(self) -> bool:
        """Whether a nonce is echoed (without decoding it: the cache asks on every miss)."""
        return any(extension.oid == NONCE_OID for extension in self.extensions)

    @property
    def nonce(self) -> bytes | None:
        """The nonce octets echoed, if any."""
        echoed = self._nonce()
        return echoed[0] if echoed else None

    @property
    def nonce_form(self) -> NonceForm | None:
        """How the nonce is echoed (as the request sent it), if one is."""
        echoed = self._nonce()
        return echoed[1] if echoed else None

    def _nonce(self) -> tuple[bytes, NonceForm] | None:
        for extension in self.extensions:
            if extension.oid == NONCE_OID:
                return read_nonce(extension.value)  # the request's rule: same answer
        return None

    def without_nonce(self) -> ResponseDraft:
        """This draft without its nonce extension."""
        kept = tuple(e for e in self.extensions if e.oid != NONCE_OID)
        return ResponseDraft(
            self.produced_at, self.singles, self.responder_id, self.certs, kept,
            self.responder_id_override,
        )  # fmt: skip

    def with_nonce(self, nonce: bytes, form: NonceForm = NonceForm.WRAPPED) -> ResponseDraft:
        """This draft echoing ``nonce`` (RFC 8954 2.1: same value as the request's)."""
        kept = self.without_nonce().extensions
        return ResponseDraft(
            self.produced_at, self.singles, self.responder_id, self.certs,
            (*kept, nonce_extension(nonce, form)), self.responder_id_override,
        )  # fmt: skip


def nonce_extension(nonce: bytes, form: NonceForm = NonceForm.WRAPPED) -> Extension:
    """The response's nonce extension, in the form the request used.

    RFC 9654 2.1 / RFC 8954 2.1: extnValue holds the Nonce, an OCTET STRING.
    A raw nonce (:class:`~responder.protocol.NonceForm`) is echoed raw, as
    OpenSSL-based responders do: a client that sent it so compares the bytes.
    """
    return Extension(NONCE_OID, octet_string(nonce) if form is NonceForm.WRAPPED else nonce)


def responder_key_hash(certificate_der_spki: bytes) -> bytes:
    """RFC 6960 4.2.1 KeyHash: SHA-1 of the subjectPublicKey BIT STRING value."""
    bit_string = asn1_keys.PublicKeyInfo.load(certificate_der_spki)["public_key"]
    return hashlib.sha1(bit_string.contents[1:]).digest()  # without the unused-bits octet


class Signer:
    """A certificate whose key signs answers, with what goes in ``certs`` precomputed."""

    def __init__(
        self, cert: IssuedCert, chain: list[IssuedCert], hash_name: SignatureHash | None = None
    ) -> None:
        self.cert = cert
        self.name = cert.name
        self._key = cert.private_key
        spki = cert.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_hash = responder_key_hash(spki)
        self.subject = asn1_x509.Name.load(cert.certificate.subject.public_bytes())
        self._certs = {
            CertsIncluded.NONE: [],
            CertsIncluded.SIGNER: [_asn1_cert(cert)],
            CertsIncluded.CHAIN: [_asn1_cert(c) for c in chain],
        }
        self._hash: hashes.HashAlgorithm | None = signature_hash(self._key)
        if hash_name is not None and self._hash is not None:
            # [responder] signature_hash; Ed25519 (no hash to choose: RFC 8410 3) keeps its own.
            self._hash = hash_of(hash_name)
        self.algorithm = _signature_algorithm(self._key, self._hash)
        #: ``data -> signature`` by the algorithm :attr:`algorithm` names.
        self.signature = _signing_function(self._key, self._hash)
        # Encoded once by asn1crypto, spliced into every response: see _tbs_der.
        self.algorithm_der = bytes(asn1_algos.SignedDigestAlgorithm(self.algorithm).dump())
        self._responder_id_der = {k: bytes(self.responder_id(k).dump()) for k in ResponderIdKind}
        self._certs_der = {  # the [0] EXPLICIT certs field of BasicOCSPResponse, or nothing
            included: bytes(asn1_ocsp.Certificates(certs, explicit=0).dump()) if certs else b""
            for included, certs in self._certs.items()
        }
        self._encoder = _ResponseEncoder()

    def responder_id(self, kind: ResponderIdKind) -> asn1_ocsp.ResponderId:
        """RFC 6960 4.2.1 ResponderID: byKey (SHA-1 of the key) or byName (the subject)."""
        if kind is ResponderIdKind.KEY:
            return asn1_ocsp.ResponderId(name="by_key", value=self.key_hash)
        return asn1_ocsp.ResponderId(name="by_name", value=self.subject)

    def responder_id_der(self, kind: ResponderIdKind) -> bytes:
        """The DER of :meth:`responder_id`, encoded once."""
        return self._responder_id_der[kind]

    def certs(self, included: CertsIncluded) -> list[asn1_x509.Certificate]:
        return self._certs[included]

    def certs_der(self, included: CertsIncluded) -> bytes:
        """The DER of the ``[0] EXPLICIT certs`` field; empty when it is left out."""
        return self._certs_der[included]

    def sign(self, draft: ResponseDraft) -> bytes:
        """The DER OCSPResponse for ``draft``, signed with this key (RFC 6960 4.2.1)."""
        der = self._encoder.der
        tbs = self._encoder.tbs_der(draft, self)
        # BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm,
        #   signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
        basic = der.sequence(
            tbs
            + self.algorithm_der
            + der.bit_string(self.signature(tbs))
            + self.certs_der(draft.certs)
        )
        # ResponseBytes ::= SEQUENCE { responseType, response OCTET STRING } (RFC 6960 4.2.1)
        response_bytes = der.sequence(_BASIC_TYPE + der.octet_string(basic))
        # OCSPResponse ::= SEQUENCE { responseStatus, responseBytes [0] EXPLICIT OPTIONAL }
        return der.sequence(_SUCCESSFUL + der.explicit(0, response_bytes))


def _asn1_cert(cert: IssuedCert) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.certificate.public_bytes(serialization.Encoding.DER))


def _signing_function(key: object, digest: hashes.HashAlgorithm | None) -> Callable[[bytes], bytes]:
    """``data -> signature`` with ``key``, its padding and hash chosen once, not per answer."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert digest is not None
        # RFC 6979 deterministic ECDSA: the same draft gives the same bytes.
        ecdsa = ec.ECDSA(digest, deterministic_signing=True)
        return lambda data: key.sign(data, ecdsa)
    if isinstance(key, rsa.RSAPrivateKey):
        assert digest is not None
        pkcs1 = padding.PKCS1v15()
        return lambda data: key.sign(data, pkcs1, digest)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign


def _signature_algorithm(key: object, digest: hashes.HashAlgorithm | None) -> dict[str, object]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {"algorithm": "ed25519"}  # RFC 8410 3: parameters absent
    assert digest is not None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"algorithm": f"{digest.name}_ecdsa"}  # RFC 5758 3.2: parameters absent
    # RFC 4055 5 / RFC 8017 A.2.4: sha256WithRSAEncryption with NULL parameters.
    return {"algorithm": f"{digest.name}_rsa", "parameters": core.Null()}


def _single(answer: SingleAnswer) -> asn1_ocsp.SingleResponse:
    if answer.status is CertStatus.REVOKED:
        assert answer.revoked_at is not None
        info: dict[str, object] = {"revocation_time": answer.revoked_at}
        if answer.reason is not None:  # RFC 6960 4.2.1: reasonCode is optional
            info["revocation_reason"] = REASONS[answer.reason]
        status = asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))
    else:
        status = asn1_ocsp.CertStatus(name=answer.status.value, value=core.Null())
    single: dict[str, object] = {
        "cert_id": answer.cert_id.to_asn1(),
        "cert_status": status,
        "this_update": answer.this_update,
    }
    if answer.next_update is not None:
        single["next_update"] = answer.next_update
    return asn1_ocsp.SingleResponse(single)


# ---- pre-encoded pieces -------------------------------------------------------------------
#
# Building asn1crypto structures costs far more than the ECDSA signature: a fresh
# Sequence re-serialises every child, recursively, on dump, and the embedded
# certificate alone is hundreds of values. So a response is assembled from DER
# pieces, each encoded by asn1crypto: what does not change between requests once
# (per signer: ResponderID, the certs field, the signature algorithm) or per set of
# answers (the ``responses`` field, memoised); per request only producedAt, the
# extensions (the nonce), the signature and the enclosing SEQUENCEs, whose tags and
# lengths asn1crypto writes around the concatenated contents of their fields.
# tests/test_responder_fastpath.py holds the bytes to a build from scratch.

_Key = tuple[tuple[object, ...], ...]
#: At most this many encoded ``responses`` fields are remembered per signer.
_RESPONSES_MAX = 4096
_SUCCESSFUL = bytes(asn1_ocsp.OCSPResponseStatus("successful").dump())
_BASIC_TYPE = bytes(asn1_ocsp.ResponseType("basic_ocsp_response").dump())
_TRUE = bytes(core.Boolean(True).dump())


def _single_key(answer: SingleAnswer) -> tuple[object, ...]:
    return (
        answer.cert_id,
        answer.status,
        answer.this_update,
        answer.next_update,
        answer.revoked_at,
        answer.reason,
    )


class _ResponseEncoder:
    """The DER pieces of one signer's responses, and the memos that make them cheap.

    Owned by its :class:`Signer` (a memo lives with what it serves, never in a
    module global): the encoded ``responses`` field keyed on everything a
    SingleResponse says — thisUpdate is part of the key, so an entry is only
    reused within the same second (or while the clock stands still) and the
    bytes are exactly what encoding anew gives —, the last producedAt (answers
    within one second share it), extension OIDs, and the TLV headers.
    """

    def __init__(self) -> None:
        self.der = DerWriter()
        self._responses: dict[_Key, bytes] = {}
        self._oids: dict[str, bytes] = {}
        self._produced_at: tuple[dt.datetime, bytes] | None = None

    def responses_der(self, singles: tuple[SingleAnswer, ...]) -> bytes:
        key = tuple(_single_key(s) for s in singles)
        der = self._responses.get(key)
        if der is None:
            der = bytes(asn1_ocsp.Responses([_single(s) for s in singles]).dump())
            if len(self._responses) >= _RESPONSES_MAX:
                self._responses.clear()  # a crude bound: entries live a second at most anyway
            self._responses[key] = der
        return der

    def extensions_der(self, draft: ResponseDraft) -> bytes:
        """``[1] EXPLICIT`` responseExtensions, each Extension from asn1crypto-encoded fields."""
        der = self.der
        encoded = []
        for e in draft.extensions:
            # Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when
            #   false: DER), extnValue OCTET STRING } (RFC 5280 4.1)
            fields = self._oid_der(e.oid)
            if e.critical:
                fields += _TRUE
            encoded.append(der.sequence(fields + der.octet_string(e.value)))
        return der.explicit(1, der.sequence(b"".join(encoded)))

    def _oid_der(self, oid: str) -> bytes:
        der = self._oids.get(oid)
        if der is None:
            der = self._oids.setdefault(oid, bytes(core.ObjectIdentifier(oid).dump()))
        return der

    def generalized_time(self, when: dt.datetime) -> bytes:
        last = self._produced_at  # one read: another thread may replace it meanwhile
        if last is not None and last[0] == when:
            return last[1]
        der = bytes(core.GeneralizedTime(when).dump())
        self._produced_at = (when, der)
        return der

    def tbs_der(self, draft: ResponseDraft, signer: Signer) -> bytes:
        # ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1 (omitted: DER),
        #   responderID, producedAt, responses, responseExtensions [1] EXPLICIT OPTIONAL }
        override = draft.responder_id_override
        parts = [
            bytes(override.dump())
            if override is not None
            else signer.responder_id_der(draft.responder_id),
            self.generalized_time(draft.produced_at),
            self.responses_der(draft.singles),
        ]
        if draft.extensions:
            parts.append(self.extensions_der(draft))
        return self.der.sequence(b"".join(parts))
