"""A small, explicit builder of OCSP responses for validator tests, every knob exposed.

Independent of the lab's responder (the system under test): DER comes from
asn1crypto, signatures from cryptography. A test states what it wants::

    der = forge(signer=pki["responder"], singles=[Single(server, intermediate)])

and breaks one thing at a time: ``responder_id``, ``certs``, ``status``,
``this_update`` / ``next_update``, ``nonce``, CertID fields, extensions,
``corrupt_signature``, or an unsuccessful ``response_status``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import algos as asn1_algos
from asn1crypto import core as asn1_core
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from pki.certid import issuer_key_hash, issuer_name_hash
from pki.spec import REASONS

__all__ = ["NONCE_OID", "NOW", "Extension", "Signer", "Single", "forge", "unsuccessful"]

#: The default "now" of forged answers: inside the default PKI's validity (t0 = EPOCH).
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
NONCE_OID = "1.3.6.1.5.5.7.48.1.2"
_STAND_IN_OID = "1.3.6.1.5.5.7.48.1.120"


class Signer(Protocol):
    """What signs a forged answer: a :class:`pki.IssuedCert`, or any certificate and its key."""

    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def private_key(self) -> object: ...


@dataclass(frozen=True)
class Extension:
    oid: str
    value: bytes  # extnValue contents (DER of the inner value)
    critical: bool = False


@dataclass(frozen=True)
class Single:
    """One SingleResponse for ``cert`` issued by ``issuer``; override any CertID field."""

    cert: x509.Certificate
    issuer: x509.Certificate
    status: str = "good"  # good | revoked | unknown
    reason: str | None = None  # RFC 5280 name, for revoked
    revoked_at: dt.datetime = NOW - dt.timedelta(days=2)
    this_update: dt.datetime = NOW - dt.timedelta(hours=1)
    next_update: dt.datetime | None = NOW + dt.timedelta(days=1)
    hash_algorithm: str = "sha1"
    serial: int | None = None
    name_hash: bytes | None = None
    key_hash: bytes | None = None
    extensions: tuple[Extension, ...] = ()

    def to_asn1(self) -> asn1_ocsp.SingleResponse:
        serial = self.serial if self.serial is not None else self.cert.serial_number
        cert_id = asn1_ocsp.CertId(
            {
                "hash_algorithm": asn1_algos.DigestAlgorithm({"algorithm": self.hash_algorithm}),
                "issuer_name_hash": self.name_hash
                or issuer_name_hash(self.issuer, self.hash_algorithm),
                "issuer_key_hash": self.key_hash
                or issuer_key_hash(self.issuer, self.hash_algorithm),
                "serial_number": serial,
            }
        )
        if self.status in ("good", "unknown"):
            status = asn1_ocsp.CertStatus(name=self.status, value=asn1_core.Null())
        else:
            info: dict[str, object] = {"revocation_time": _time(self.revoked_at)}
            if self.reason is not None:
                info["revocation_reason"] = REASONS[self.reason]
            status = asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))
        single: dict[str, object] = {
            "cert_id": cert_id,
            "cert_status": status,
            "this_update": _time(self.this_update),
        }
        if self.next_update is not None:
            single["next_update"] = _time(self.next_update)
        if self.extensions:
            single["single_extensions"] = [_extension(e) for e in self.extensions]
        return asn1_ocsp.SingleResponse(single)


def _extension(ext: Extension) -> dict[str, object]:
    # extn_value is a ParsableOctetString: raw contents keep unknown OIDs encodable.
    return {
        "extn_id": ext.oid,
        "critical": ext.critical,
        "extn_value": asn1_core.ParsableOctetString(ext.value),
    }


def _time(when: dt.datetime) -> dt.datetime:
    return when.replace(microsecond=0)  # CUCM: GeneralizedTime without fractions


def _sign(
    key: object, data: bytes, hash_name: str, pss_salt: int | None
) -> tuple[bytes, dict[str, object]]:
    chosen: hashes.HashAlgorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}.get(
        hash_name, hashes.SHA384()
    )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(chosen)), {"algorithm": f"{hash_name}_ecdsa"}
    if isinstance(key, rsa.RSAPrivateKey) and pss_salt is not None:
        # RFC 4055 3.1: RSASSA-PSS-params with the hash, MGF1 over the same hash, saltLength.
        digest = {"algorithm": chosen.name}
        params = {
            "hash_algorithm": digest,
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": digest},
            "salt_length": pss_salt,
        }
        pss = padding.PSS(padding.MGF1(chosen), pss_salt)
        return key.sign(data, pss, chosen), {"algorithm": "rsassa_pss", "parameters": params}
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), chosen), {"algorithm": f"{hash_name}_rsa"}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data), {"algorithm": "ed25519"}
    if isinstance(key, ed448.Ed448PrivateKey):
        return key.sign(data), {"algorithm": "ed448"}
    raise TypeError(f"signer key must be EC, RSA, Ed25519 or Ed448, not {type(key).__name__}")


def forge(
    *,
    signer: Signer,
    singles: Sequence[Single],
    certs: Sequence[x509.Certificate] | None = None,
    responder_id: str | bytes | asn1_x509.Name = "key",
    signer_key: object = None,
    produced_at: dt.datetime | None = None,
    nonce: bytes | None = None,
    raw_nonce: bytes | None = None,
    extensions: Sequence[Extension] = (),
    corrupt_signature: bool = False,
    signature_hash: str = "sha256",
    pss_salt: int | None = None,
    response_type: str = "basic_ocsp_response",
) -> bytes:
    """A signed, successful OCSPResponse (RFC 6960 4.2.1).

    ``certs`` defaults to ``[signer]`` (``[]`` embeds none); ``responder_id``
    is ``"key"``, ``"name"``, raw key-hash bytes or an asn1crypto Name
    (byName, encoded as given); ``signer_key`` signs
    instead of the signer's own key (a wrong key); ``nonce`` is echoed RFC
    9654-style and ``raw_nonce`` unwrapped (RFC 6960's looser reading);
    ``pss_salt`` signs with RSASSA-PSS and that saltLength (an RSA key only).
    """
    signer_cert = signer.certificate
    if isinstance(responder_id, bytes):
        rid = asn1_ocsp.ResponderId(name="by_key", value=responder_id)
    elif isinstance(responder_id, asn1_x509.Name):
        rid = asn1_ocsp.ResponderId(name="by_name", value=responder_id)
    elif responder_id == "key":
        rid = asn1_ocsp.ResponderId(name="by_key", value=issuer_key_hash(signer_cert, "sha1"))
    else:
        name = asn1_x509.Name.load(signer_cert.subject.public_bytes())
        rid = asn1_ocsp.ResponderId(name="by_name", value=name)
    response_extensions = list(extensions)
    if nonce is not None:
        response_extensions.append(Extension(NONCE_OID, asn1_core.OctetString(nonce).dump()))
    if raw_nonce is not None:
        # asn1crypto insists the nonce's extnValue is an OCTET STRING: build it under a
        # stand-in OID of the same length, then swap the OID's DER before signing.
        response_extensions.append(Extension(_STAND_IN_OID, raw_nonce))
    tbs: dict[str, object] = {
        "responder_id": rid,
        "produced_at": _time(produced_at or NOW),
        "responses": [s.to_asn1() for s in singles],
    }
    if response_extensions:
        tbs["response_extensions"] = [_extension(e) for e in response_extensions]
    tbs_der = asn1_ocsp.ResponseData(tbs).dump()
    if raw_nonce is not None:
        stand_in = asn1_core.ObjectIdentifier(_STAND_IN_OID).dump()
        tbs_der = tbs_der.replace(stand_in, asn1_core.ObjectIdentifier(NONCE_OID).dump())
    key = signer_key if signer_key is not None else signer.private_key
    signature, algorithm = _sign(key, tbs_der, signature_hash, pss_salt)
    if corrupt_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
    embedded = [signer_cert] if certs is None else list(certs)
    basic: dict[str, object] = {
        "tbs_response_data": asn1_ocsp.ResponseData.load(tbs_der),
        "signature_algorithm": algorithm,
        "signature": signature,
    }
    if embedded:
        basic["certs"] = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in embedded
        ]
    der: bytes = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {
                "response_type": response_type,
                "response": asn1_ocsp.BasicOCSPResponse(basic)
                if response_type == "basic_ocsp_response"
                else asn1_core.ParsableOctetString(asn1_ocsp.BasicOCSPResponse(basic).dump()),
            },
        }
    ).dump()
    return der


def unsuccessful(status: str | int) -> bytes:
    """An unsigned error response: ``malformed_request``, ``try_later``, … or a raw number.

    asn1crypto's names: ``sign_required`` is RFC 6960's sigRequired.
    """
    if isinstance(status, int):
        # Undefined values (4, 7…) have no asn1crypto name: patch the one content octet.
        der = bytearray(asn1_ocsp.OCSPResponse({"response_status": "successful"}).dump())
        der[-1] = status
        return bytes(der)
    named: bytes = asn1_ocsp.OCSPResponse({"response_status": status}).dump()
    return named
