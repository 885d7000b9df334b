"""A responder's misbehaviours (``[responder.faults]``) in words, for people to read."""

from __future__ import annotations

from lab.timespec import format_offset
from responder.config import Faults

__all__ = ["describe_faults"]

_FAULT_WORDS = {
    "down": "nothing listens: every connection is refused",
    "delay": "answers after {} of real time",
    "http_status": "answers HTTP {} without an OCSP body",
    "content_type": "labels a correct answer with the content type {!r}",
    "body": "sends an unreadable body ({})",
    "status": "answers with the unsuccessful responseStatus {}",
    "answer": "says {} for every certificate",
    "signature_corrupt": "spoils the signature so that it does not verify",
    "this_update": "dates thisUpdate at now {} (an answer from the future)",
    "next_update": "dates nextUpdate at now {} (a stale answer)",
    "nonce": "does not echo the nonce as it should ({})",
    "cert_id": "answers for another CertID than asked ({})",
    "critical_extension": "adds an unknown critical extension",
    "responder_id_wrong": "names a ResponderID that matches no certificate of the lab",
}


def describe_faults(faults: Faults) -> list[str]:
    """The active misbehaviours in words (an empty list: it behaves)."""
    words: list[str] = []
    for key, phrase in _FAULT_WORDS.items():
        value = getattr(faults, key)
        if value is None or value is False:
            continue
        if hasattr(value, "total_seconds"):
            shown = (
                format_offset(value)
                if key in ("this_update", "next_update")
                else (f"{value.total_seconds():g} s")
            )
        else:
            shown = str(value)
        words.append(phrase.format(shown))
    return words
