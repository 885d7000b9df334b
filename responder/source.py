"""The Source: request DER in, a :class:`~responder.protocol.Reply` out (Boulder's layering).

A source that cannot answer raises an :class:`~responder.protocol.OCSPRequestError`
(``MalformedRequest``, ``Unauthorized``); the HTTP layer maps it to the wire,
in one place (:func:`responder.app.serve_ocsp`). The request is decoded here,
below the pre-signed cache, so that a cached answer costs a dictionary lookup
on the request bytes and no decoding (RFC 5019 2.1.1).

:class:`DatabaseSource` answers from the certificate database: it maps each
CertID's (issuerNameHash, issuerKeyHash) — for the request's hash algorithm —
to a lab CA, looks the serial up, picks the signer and has the signing layer
make the DER. Wrapping sources (:class:`~responder.cache.CachingSource`,
:class:`~responder.faults.FaultSource`) stack on top with the same interface.

Who signs (SCENARIOS.md ``[responder]``): ``signers[ca]``, else ``signer``,
else the default — ``intermediate`` → ``responder``, ``root`` →
``root-responder``, any other CA → itself. One response has one signer
(RFC 6960 4.2.1), so a request mixing CAs is answered by the signer of its
first CertID that names a lab CA. A CertID whose CA has *another* signer
still gets its SingleResponse (RFC 6960 4.1.1: one per CertID asked), but
with certStatus ``unknown``: a signer not authorized for that CA must not
vouch good or revoked for its certificates (RFC 6960 4.2.2.2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from pki import PKI, IssuedCert, Record
from pki.certid import CERTID_HASHES, CertID, issuer_hashes
from pki.database import RecordReader
from responder.clock import Clock, ocsp_time
from responder.config import NotFound, ResponderConfig
from responder.protocol import NonceForm, OCSPQuery, Reply, Unauthorized, decode_request
from responder.signing import (
    EXTENDED_REVOKE_OID,
    CertStatus,
    Extension,
    ResponseDraft,
    Signer,
    SingleAnswer,
    nonce_extension,
)

__all__ = ["DEFAULT_SIGNERS", "DatabaseSource", "SignerPolicy", "Source"]

#: Default delegated signer per issuing CA (SCENARIOS.md ``[responder].signer``).
DEFAULT_SIGNERS = {"intermediate": "responder", "root": "root-responder"}

# RFC 6960 2.2: "revoked" for a certificate never issued uses revocationTime
# 1970-01-01 and reasonCode certificateHold, with the extended-revoke extension.
_NEVER_ISSUED_AT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NULL_DER = b"\x05\x00"


class Source(Protocol):
    """Anything that answers an OCSP request given as DER."""

    def respond(self, der: bytes) -> Reply:
        """The reply to the OCSPRequest ``der``; OCSPRequestError when it gets none."""
        ...


class SignerPolicy:
    """Which certificate signs answers about which CA (SCENARIOS.md ``[responder]``)."""

    def __init__(self, pki: PKI, config: ResponderConfig) -> None:
        self._pki = pki
        self._hash = config.signature_hash
        for where, name in [("signer", config.signer), *(
            (f"signers.{ca}", n) for ca, n in config.signers.items()
        )]:  # fmt: skip
            if name is not None and name not in pki:
                raise ValueError(f"responder {where}: no certificate named {name!r} in the PKI")
        self._signers: dict[str, Signer] = {}
        self._by_ca = {ca.name: self._resolve(ca.name, config) for ca in pki.cas()}
        fallback = config.signer or self._by_ca.get("intermediate")
        if fallback is None and self._by_ca:
            fallback = next(iter(self._by_ca.values()))
        self._fallback = fallback

    def _resolve(self, ca: str, config: ResponderConfig) -> str:
        if ca in config.signers:
            return config.signers[ca]
        if config.signer is not None:
            return config.signer
        default = DEFAULT_SIGNERS.get(ca, ca)
        return default if default in self._pki else ca

    def signer(self, name: str) -> Signer:
        """The :class:`Signer` of certificate ``name`` (built once)."""
        if name not in self._signers:
            self._signers[name] = Signer(self._pki[name], self._pki.chain(name), self._hash)
        return self._signers[name]

    def name_for(self, ca: str | None) -> str | None:
        """The signer's name for certificates of ``ca`` (None: a CA the lab does not know)."""
        return self._by_ca.get(ca) if ca is not None else self._fallback

    def assignments(self) -> dict[str, str]:
        """Issuing CA → signer name, for the status page."""
        return dict(self._by_ca)


class DatabaseSource:
    """Answers from a :class:`CertificateDatabase`, signed per :class:`SignerPolicy`.

    ``database`` is the live one: a reload from disk (another worker's change)
    replaces its records in place, so the next request sees it.
    """

    def __init__(
        self,
        pki: PKI,
        database: RecordReader,
        config: ResponderConfig,
        clock: Clock,
    ) -> None:
        self.pki = pki
        self.database = database
        self.config = config
        self.clock = clock
        self.signers = SignerPolicy(pki, config)
        self._verdicts: dict[tuple[object, ...], _Verdict] = {}
        # (hash, issuerNameHash, issuerKeyHash) -> CA, for every hash RFC 6960 clients use.
        self._cas: dict[tuple[str, bytes, bytes], IssuedCert] = {}
        for ca in pki.cas():
            for algorithm in CERTID_HASHES:
                self._cas[(algorithm, *issuer_hashes(ca.certificate, algorithm))] = ca

    def issuer_of(self, cert_id: CertID) -> IssuedCert | None:
        """The lab CA a CertID names, if any."""
        return self._cas.get(
            (cert_id.hash_algorithm, cert_id.issuer_name_hash, cert_id.issuer_key_hash)
        )

    def respond(self, der: bytes) -> Reply:
        """Decode, look up, sign; MalformedRequest for unreadable input (RFC 6960 2.3)."""
        return self.answer(decode_request(der))

    def answer(self, query: OCSPQuery) -> Reply:
        """The signed answer to a decoded request; Unauthorized when it has none to give."""
        now = ocsp_time(self.clock())
        # Within one second (thisUpdate's resolution) and one database version the same
        # CertIDs get the same SingleResponses: the database is asked once. A request
        # with a nonce misses the pre-signed cache but not this.
        key = (query.cert_ids, now, self.database.version)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdict(query.cert_ids, now)
            if len(self._verdicts) >= _VERDICTS_MAX:
                self._verdicts.clear()  # entries are good for a second anyway
            self._verdicts[key] = verdict
        if verdict.signer_name is None:
            # RFC 6960 2.3 / RFC 5019 2.2.3: "unauthorized" for what it cannot answer.
            why = "no record" if verdict.not_found else "no lab CA issued it"
            raise Unauthorized(why, query=query)
        extensions = []
        if query.nonce is not None:
            extensions.append(nonce_extension(query.nonce, query.nonce_form or NonceForm.WRAPPED))
        if verdict.extended_revoke:
            extensions.append(Extension(EXTENDED_REVOKE_OID, _NULL_DER))
        draft = ResponseDraft(
            produced_at=now,
            singles=verdict.singles,
            responder_id=self.config.responder_id,
            certs=self.config.certs,
            extensions=tuple(extensions),
        )
        signer = self.signers.signer(verdict.signer_name)
        return Reply(
            body=signer.sign(draft), draft=draft, signer=signer, serials=tuple(query.serials),
            nonce_form=query.nonce_form,
        )  # fmt: skip

    def _verdict(self, cert_ids: tuple[CertID, ...], now: dt.datetime) -> _Verdict:
        """What the database says of each CertID at ``now``, and who signs it."""
        found: list[tuple[CertID, IssuedCert | None, Record | None]] = []
        for cert_id in cert_ids:
            ca = self.issuer_of(cert_id)
            record = self.database.lookup(ca.name, cert_id.serial) if ca else None
            found.append((cert_id, ca, record))
        if self.config.not_found is NotFound.UNAUTHORIZED and any(r is None for *_, r in found):
            # RFC 6960 2.3 / RFC 5019 2.2.3: "unauthorized" for what it cannot answer.
            return _Verdict((), None, not_found=True)
        first_ca = next((ca.name for _, ca, _ in found if ca is not None), None)
        signer_name = self.signers.name_for(first_ca)
        if signer_name is None:
            return _Verdict((), None)
        validity = self.config.next_update
        next_update = now + validity if validity is not None else None
        singles = []
        extended_revoke = False
        for cert_id, ca, record in found:
            authoritative = ca is None or self.signers.name_for(ca.name) == signer_name
            single = SingleAnswer(cert_id, CertStatus.UNKNOWN, now, next_update, issuer=ca)
            if not authoritative:
                pass  # see the module docstring: never vouch for another signer's CA
            elif record is not None and record.index_status == "E":
                # An index.txt line marked E (expired, `openssl ca -updatedb`): openssl ocsp
                # -index answers it with no SingleResponse at all (apps/ocsp.c
                # make_ocsp_response adds one for V and R only), and [responder] index
                # answers as it does. RFC 6960 4.2.2.3 would want one per CertID asked.
                continue
            elif record is not None:
                single = _from_record(single, record)
            elif self.config.not_found is NotFound.GOOD:
                single = SingleAnswer(cert_id, CertStatus.GOOD, now, next_update, issuer=ca)
            elif self.config.not_found is NotFound.REVOKED:
                extended_revoke = True
                single = SingleAnswer(
                    cert_id, CertStatus.REVOKED, now, next_update,
                    revoked_at=_NEVER_ISSUED_AT, reason="certificateHold", issuer=ca,
                )  # fmt: skip
            singles.append(single)
        return _Verdict(tuple(singles), signer_name, extended_revoke=extended_revoke)


#: At most this many (CertIDs, second, version) verdicts are kept.
_VERDICTS_MAX = 4096


@dataclass(frozen=True)
class _Verdict:
    """The database's answer to a set of CertIDs at one second; no signer: unauthorized."""

    singles: tuple[SingleAnswer, ...]
    signer_name: str | None
    extended_revoke: bool = False
    not_found: bool = False


def _from_record(single: SingleAnswer, record: Record) -> SingleAnswer:
    if not record.is_revoked:
        return SingleAnswer(
            single.cert_id, CertStatus.GOOD, single.this_update, single.next_update,
            issuer=single.issuer,
        )  # fmt: skip
    return SingleAnswer(
        single.cert_id, CertStatus.REVOKED, single.this_update, single.next_update,
        revoked_at=ocsp_time(record.revoked_at or single.this_update),
        reason=record.reason, issuer=single.issuer,
    )  # fmt: skip
