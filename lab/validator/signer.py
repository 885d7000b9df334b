"""Who signed the response: the Delegated Trust Model, then the Trusted Responder model.

DTM (RFC 6960 4.2.2.2): the issuing CA itself, or a responder certificate
issued directly by it (its signature verifies with the CA's key, issuer name
matches), carrying id-kp-OCSPSigning and valid now. TRP: the signer is
byte-equal to a trust-store certificate that carries id-kp-OCSPSigning and is
valid now. The signer is located through the ResponderID (RFC 6960 4.2.2.3)
among the embedded certificates, the issuer, the path's CAs and the trust
store. Only signer and signature failures fall back to TRP.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from lab.evidence import CheckFailure, ErrorCode, TrustedBy
from lab.settings import Delegation
from lab.validator.certsig import SHA1_WARNING
from lab.validator.context import CheckContext, Prepared
from lab.validator.facts import FACTS, CertFacts
from lab.validator.response import ParsedResponse

__all__ = ["Accepted", "find_signer"]

_SIGNATURE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

_HASH_OBJECTS = {name: cls() for name, cls in _SIGNATURE_HASHES.items()}
_ECDSA = {name: ec.ECDSA(hash_) for name, hash_ in _HASH_OBJECTS.items()}
_PKCS1 = padding.PKCS1v15()


def _signature_verifies(parsed: ParsedResponse, signer: CertFacts) -> bool:
    """The response signature over tbsResponseData, with the signer's key (RFC 6960 3.2 item 2)."""
    try:
        key = signer.key()
    except (ValueError, UnsupportedAlgorithm):
        return False
    algo = parsed.signature_algorithm
    hash_name = parsed.signature_hash or ""
    hash_ = _HASH_OBJECTS.get(hash_name)
    try:
        if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey) and hash_:
            key.verify(parsed.signature, parsed.tbs_der, _ECDSA[hash_name])
        elif algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey) and hash_:
            key.verify(parsed.signature, parsed.tbs_der, _PKCS1, hash_)
        elif algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and hash_:
            # RFC 4055 3.1: saltLength defaults to 20 when absent; 0 is a valid length.
            salt = 20 if parsed.pss_salt_length is None else parsed.pss_salt_length
            pss = padding.PSS(padding.MGF1(hash_), salt)
            key.verify(parsed.signature, parsed.tbs_der, pss, hash_)
        elif (algo == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey)) or (
            algo == "ed448" and isinstance(key, ed448.Ed448PublicKey)
        ):
            key.verify(parsed.signature, parsed.tbs_der)
        else:
            # MD5/MD2 signatures, DSA, or an algorithm that does not fit the key.
            return False
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def _responder_id_matches(parsed: ParsedResponse, cert: CertFacts) -> bool:
    """RFC 6960 4.2.2.3: byKey is SHA-1 of the subjectPublicKey BIT STRING value.

    byName compares names as RFC 5280 7.1 does (asn1crypto normalises string
    types and case), not byte for byte: OpenSSL re-encodes the name it puts there.
    """
    if parsed.responder_id_kind == "by_key":
        return cert.key_sha1() == parsed.responder_id
    if cert.subject_der() == parsed.responder_id:
        return True
    return bool(cert.asn1_subject() == FACTS.asn1_name(parsed.responder_id))


class Accepted(NamedTuple):
    signer: CertFacts
    model: TrustedBy
    delegated: bool
    how: str
    warnings: tuple[str, ...] = ()


def _unique(certs: Iterable[CertFacts]) -> list[CertFacts]:
    seen: set[bytes] = set()
    out = []
    for cert in certs:
        if cert.der not in seen:
            seen.add(cert.der)
            out.append(cert)
    return out


def _dtm_reason(
    signer: CertFacts, prep: Prepared, ctx: CheckContext
) -> tuple[str | None, bool, tuple[str, ...]]:
    """(why DTM refuses ``signer`` or None, delegated?, warnings)."""
    issuer = prep.issuer
    if issuer is None:
        return "no issuing CA given", False, ()
    # RFC 6960 4.2.2.2 case 1: the CA that issued the certificate in question.
    if signer.spki() == issuer.spki() and signer.same_subject(issuer):
        return None, False, ()
    # Case 3: a CA Designated Responder, issued directly by that CA (same key).
    refused: list[str] = []  # why a CA of the right name did not verify the signature
    for ca in prep.delegators:
        signature = signer.issued_by(ca)  # issuer name and the CA's signature, any algorithm
        if not signature.verified:
            if signature.issuer_name_matches:
                refused.append(f"{ca.subject()}: {signature.why}")
            continue
        if not signer.ocsp_signing():
            return f"{signer.subject()} has no id-kp-OCSPSigning EKU", True, ()
        if not signer.valid_at(ctx.now):
            return f"{signer.subject()} is outside its validity period", True, ()
        warnings: tuple[str, ...] = ()
        if signature.sha1:
            warnings += (f"delegated responder {signer.subject()}'s certificate is {SHA1_WARNING}",)
        if not signer.nocheck():
            warnings += (
                f"delegated responder {signer.subject()} has no id-pkix-ocsp-nocheck "
                "(RFC 6960 4.2.2.2.1); its own revocation is not checked",
            )
        return None, True, warnings
    scope = "a CA of the path" if ctx.options.delegation is Delegation.ANY_CA else "the issuing CA"
    why = f"{signer.subject()} is neither the issuing CA nor issued directly by {scope}"
    return why + (f" ({'; '.join(refused)})" if refused else ""), True, ()


def _trp_reason(signer: CertFacts, prep: Prepared, ctx: CheckContext) -> str | None:
    """Why TRP refuses ``signer``, or None: exactly a trust-store cert, with EKU, valid now."""
    if signer.der not in prep.trust_der:
        return f"{signer.subject()} is not in the trust store"
    if not signer.ocsp_signing():
        return f"{signer.subject()} is in the trust store but has no id-kp-OCSPSigning EKU"
    if not signer.valid_at(ctx.now):
        return f"{signer.subject()} is in the trust store but outside its validity period"
    return None


_HOW = {
    (TrustedBy.DTM, False): "the issuing CA itself",
    (TrustedBy.DTM, True): "a delegated responder issued by the CA",
    (TrustedBy.TRP, True): "a designated OCSP signing certificate of the trust store",
    (TrustedBy.TRP, False): "a designated OCSP signing certificate of the trust store",
}


def find_signer(
    parsed: ParsedResponse, embedded: tuple[CertFacts, ...], prep: Prepared, ctx: CheckContext
) -> Accepted:
    """DTM first, then TRP (DESIGN.md step 4); CheckFailure when neither accepts."""
    named = [c for c in _unique((*embedded, *prep.known)) if _responder_id_matches(parsed, c)]
    if not named:
        raise CheckFailure(
            ErrorCode.SIGNER_NOT_AUTHORIZED,
            f"ResponderID {parsed.responder_id_text} names no certificate in the response, "
            "the issuer or the trust store (signer not found)",
        )
    refusals: list[str] = []
    bad_signature = False
    for model in (TrustedBy.DTM, TrustedBy.TRP):
        for signer in named:
            if model is TrustedBy.DTM:
                why, delegated, warnings = _dtm_reason(signer, prep, ctx)
            else:
                why, delegated, warnings = _trp_reason(signer, prep, ctx), True, ()
            if why is not None:
                refusals.append(f"{model.value}: {why}")
                continue
            if not _signature_verifies(parsed, signer):
                bad_signature = True
                refusals.append(
                    f"{model.value}: the signature does not verify with {signer.subject()}'s key"
                )
                continue
            return Accepted(signer, model, delegated, _HOW[model, delegated], warnings)
    # bad-signature only when no named certificate's key verifies the signature: if
    # an unauthorized one does (an impostor with a trusted name), the signer is the issue.
    if bad_signature and not any(_signature_verifies(parsed, c) for c in named):
        raise CheckFailure(ErrorCode.BAD_SIGNATURE, "; ".join(refusals))
    raise CheckFailure(ErrorCode.SIGNER_NOT_AUTHORIZED, "; ".join(refusals))
