"""The fault vocabulary: one table of every ``[responder.faults]`` key.

Each row says what a key is called in scenario files (SCENARIOS.md), which
:class:`~responder.config.Faults` field holds it, what values it takes, and
in one line what it imitates. Every reader and writer of faults goes through
this table: the scenario loader, the admin API (``PUT /~admin/faults``), the
state file, the status page and ``ocsp-lab explain`` — so a key, a value or a
duration means the same thing everywhere, and a new fault is one new row.

Values are the scenario file's (TOML) values, which JSON carries alike:
``true``/``false``, words, integers, and durations or offsets as strings in
the one grammar of :mod:`responder.timespec`. JSON ``null`` is "off" (the
admin API takes ``{"status": null}``); TOML has no null.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn

from cryptography.x509.ocsp import OCSPResponseStatus

from responder.config import (
    TRANSPORT_FAULTS,
    BodyFault,
    CertIdFault,
    Faults,
    NonceFault,
    RawNonceFault,
)
from responder.protocol import STATUS_BY_NAME, status_name
from responder.signing import CertStatus
from responder.timespec import (
    DURATION_EXPECTED,
    OFFSET_EXPECTED,
    TimeSpecError,
    format_duration,
    format_offset,
    parse_duration,
    parse_offset,
)

__all__ = [
    "FAULT_KEYS",
    "FAULT_STATUSES",
    "HEADER_VALUE",
    "FaultKey",
    "FaultKind",
    "FaultValueError",
    "beyond_transport",
    "describe_faults",
    "fault_key",
    "faults_from_json",
    "faults_to_json",
]

#: What a ``content_type`` fault may be: an HTTP field value of visible ASCII and
#: spaces (RFC 9110 5.5, without obs-text) — no CR/LF to split the header with.
HEADER_VALUE = re.compile(r"[\x20-\x7e]+")
#: The responseStatus values a fault may force: every one but successful (RFC 6960 4.2.1).
FAULT_STATUSES: tuple[OCSPResponseStatus, ...] = tuple(
    s for s in OCSPResponseStatus if s is not OCSPResponseStatus.SUCCESSFUL
)


class FaultValueError(ValueError):
    """A fault value outside the table: ``key`` names the fault, ``expected`` the values."""

    def __init__(self, key: str, expected: str, found: object) -> None:
        self.key = key
        self.expected = expected
        self.found = found
        super().__init__(f"faults.{key}: expected {expected}, found {found!r}")


class FaultKind(Enum):
    """How a fault's value is written."""

    SWITCH = "true or false"
    WORD = "one word that turns it on"  # signature = "corrupt"
    CHOICE = "one of some words"
    DURATION = "a duration"
    OFFSET = "an offset from now"
    HTTP_STATUS = "an HTTP status code"
    HEADER_VALUE = "an HTTP header value"


def _quoted(words: Sequence[str]) -> str:
    return ", ".join(f'"{w}"' for w in words)


@dataclass(frozen=True)
class FaultKey:
    """One row of the table: a ``[responder.faults]`` key and how to read, write and tell it."""

    key: str  # as SCENARIOS.md writes it
    field: str  # the Faults attribute
    kind: FaultKind
    imitates: str  # one line; "{}" stands for the value as written
    words: tuple[str, ...] = ()  # WORD: the one word; CHOICE: every allowed word
    to_value: Callable[[str], object] | None = None  # CHOICE: word -> the field's value

    @property
    def expected(self) -> str:
        """What a value must look like, for error messages."""
        match self.kind:
            case FaultKind.SWITCH:
                return "true or false"
            case FaultKind.WORD | FaultKind.CHOICE:
                return f"one of {_quoted(self.words)}"
            case FaultKind.DURATION:
                return DURATION_EXPECTED
            case FaultKind.OFFSET:
                return OFFSET_EXPECTED
            case FaultKind.HTTP_STATUS:
                return "an HTTP status code from 100 to 599"
            case FaultKind.HEADER_VALUE:
                return 'a content type like "text/html" (printable ASCII)'
        raise AssertionError(self.kind)  # pragma: no cover

    def off(self) -> object:
        """The field's value when this fault is off."""
        return False if self.kind in (FaultKind.SWITCH, FaultKind.WORD) else None

    def read(self, raw: object) -> object:
        """The field's value for ``raw``; :class:`FaultValueError` if it is not one."""
        if raw is None:
            return self.off()
        if self.kind is FaultKind.SWITCH:
            if not isinstance(raw, bool):  # 0 / 1 / "true" are mistakes, not switches
                self._refuse(raw)
            return raw
        if self.kind is FaultKind.HTTP_STATUS:
            # bool is an int in Python: true is not a status
            if isinstance(raw, bool) or not isinstance(raw, int) or not 100 <= raw <= 599:
                self._refuse(raw)
            return raw
        if not isinstance(raw, str):
            self._refuse(raw)
        match self.kind:
            case FaultKind.WORD:
                if raw not in self.words:
                    self._refuse(raw)
                return True
            case FaultKind.CHOICE:
                if raw not in self.words:
                    self._refuse(raw)
                assert self.to_value is not None
                return self.to_value(raw)
            case FaultKind.DURATION | FaultKind.OFFSET:
                parse = parse_duration if self.kind is FaultKind.DURATION else parse_offset
                try:
                    return parse(raw)
                except TimeSpecError as exc:
                    raise FaultValueError(self.key, exc.expected, raw) from None
            case FaultKind.HEADER_VALUE:
                if not HEADER_VALUE.fullmatch(raw):
                    self._refuse(raw)
                return raw
        raise AssertionError(self.kind)  # pragma: no cover

    def write(self, value: object) -> object:
        """``value`` (a field's, not off) as a scenario file writes it."""
        if self.kind is FaultKind.WORD:
            return self.words[0]
        if self.kind is FaultKind.DURATION:
            assert isinstance(value, dt.timedelta)
            return format_duration(value)
        if self.kind is FaultKind.OFFSET:
            assert isinstance(value, dt.timedelta)
            return format_offset(value)
        if isinstance(value, OCSPResponseStatus):
            return status_name(value)
        if isinstance(value, Enum):
            return value.value
        return value

    def describe(self, value: object) -> str:
        """What the responder does with this fault set to ``value``, in words."""
        return self.imitates.format(self.write(value))

    def _refuse(self, raw: object) -> NoReturn:
        raise FaultValueError(self.key, self.expected, raw)


def _choice(enum: type[Enum]) -> dict[str, Any]:
    return {"words": tuple(str(m.value) for m in enum), "to_value": enum}


#: Every ``[responder.faults]`` key, in SCENARIOS.md's order (then the extensions).
FAULT_KEYS: tuple[FaultKey, ...] = (
    FaultKey("down", "down", FaultKind.SWITCH,
             "nothing listens: every connection is refused"),
    FaultKey("delay", "delay", FaultKind.DURATION,
             "answers after {} of real time (a slow or overloaded responder)"),
    FaultKey("http_status", "http_status", FaultKind.HTTP_STATUS,
             "answers HTTP {} without an OCSP body (a proxy or server error page)"),
    FaultKey("content_type", "content_type", FaultKind.HEADER_VALUE,
             "labels a correct answer with the content type {!r}"),
    FaultKey("body", "body", FaultKind.CHOICE,
             "sends an unreadable body ({})", **_choice(BodyFault)),
    FaultKey("status", "status", FaultKind.CHOICE,
             "answers with the unsuccessful responseStatus {}",
             words=tuple(status_name(s) for s in FAULT_STATUSES),
             to_value=STATUS_BY_NAME.__getitem__),
    FaultKey("answer", "answer", FaultKind.CHOICE,
             "says {} for every certificate", **_choice(CertStatus)),
    FaultKey("signature", "signature_corrupt", FaultKind.WORD,
             "spoils the signature so that it does not verify", words=("corrupt",)),
    FaultKey("this_update", "this_update", FaultKind.OFFSET,
             "dates thisUpdate at now {} (an answer from the future)"),
    FaultKey("next_update", "next_update", FaultKind.OFFSET,
             "dates nextUpdate at now {} (a stale answer)"),
    FaultKey("nonce", "nonce", FaultKind.CHOICE,
             "does not echo the nonce as it should ({})", **_choice(NonceFault)),
    FaultKey("cert_id", "cert_id", FaultKind.CHOICE,
             "answers for another CertID than asked ({})", **_choice(CertIdFault)),
    FaultKey("critical_extension", "critical_extension", FaultKind.SWITCH,
             "adds an unknown critical extension"),
    FaultKey("responder_id", "responder_id_wrong", FaultKind.WORD,
             "names a ResponderID that matches no certificate of the lab", words=("wrong",)),
    FaultKey("raw_nonce", "raw_nonce", FaultKind.CHOICE,
             "answers malformedRequest to a nonce sent raw, not as an OCTET STRING "
             "(a strict responder)", **_choice(RawNonceFault)),
)  # fmt: skip
_BY_KEY = {row.key: row for row in FAULT_KEYS}


def fault_key(key: str) -> FaultKey:
    """The row of ``key``; :class:`FaultValueError` for a key that is no fault."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise FaultValueError(key, f"one of the keys {', '.join(_BY_KEY)}", key) from None


def faults_from_json(doc: Mapping[str, object]) -> Faults:
    """``[responder.faults]`` keys and values → :class:`Faults` (FaultValueError if not)."""
    values: dict[str, Any] = {}
    for key, raw in doc.items():
        row = fault_key(key)
        values[row.field] = row.read(raw)
    return Faults(**values)


def _active(faults: Faults) -> list[tuple[FaultKey, object]]:
    active = []
    for row in FAULT_KEYS:
        value = getattr(faults, row.field)
        if value != row.off():
            active.append((row, value))
    return active


def faults_to_json(faults: Faults) -> dict[str, object]:
    """Only the active faults, with the scenario file's keys and values."""
    return {row.key: row.write(value) for row, value in _active(faults)}


def beyond_transport(faults: Faults) -> list[str]:
    """The keys of the active faults that are not transport faults (what a replay cannot do).

    :data:`responder.config.TRANSPORT_FAULTS` bend only the HTTP exchange; every
    other fault rewrites, re-signs or spoils the answer, which a replay
    (:mod:`responder.replay`) serves unchanged.
    """
    return [row.key for row, _ in _active(faults) if row.field not in TRANSPORT_FAULTS]


def describe_faults(faults: Faults) -> list[str]:
    """The active misbehaviours in words (an empty list: it behaves)."""
    return [row.describe(value) for row, value in _active(faults)]
