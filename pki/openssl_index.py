"""OpenSSL's CA database format (``index.txt``), both ways.

So ``openssl ocsp -index`` can serve the lab's PKI, and an existing
``openssl ca`` database can be served by the lab. One line per certificate,
six tab-separated fields (OpenSSL ``apps/include/apps.h`` DB_*):

    status  expiry  revocation[,reason[,hold-instruction]]  serial  file  subject

``status`` is V (valid), R (revoked) or E (expired); dates are UTCTime
(``YYMMDDHHMMSSZ``), or GeneralizedTime from 2050 on (RFC 5280 4.1.2.5);
serials are upper-case hex of an even length.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from pki.database import Record, RecordReader, atomic_write
from pki.errors import PKIError
from pki.spec import REASONS, RecordStatus

__all__ = [
    "ATTR_FILE",
    "UNREPRESENTABLE_REASONS",
    "IndexEntry",
    "export_index",
    "import_index",
    "index_line",
    "line_record",
    "read_index",
    "read_index_lines",
    "scan_index",
    "serial_digits",
    "write_index",
]

#: ``index.txt.attr``: several certificates may share a subject (the lab reissues).
ATTR_FILE = "unique_subject = no\n"

# OpenSSL's crl_reasons table (apps/lib/apps.c) spells cACompromise with a
# capital C and has no privilegeWithdrawn or aACompromise: those two are
# written as "unspecified" and reported by export_index.
_TO_OPENSSL = {
    "unspecified": "unspecified",
    "keyCompromise": "keyCompromise",
    "cACompromise": "CACompromise",
    "affiliationChanged": "affiliationChanged",
    "superseded": "superseded",
    "cessationOfOperation": "cessationOfOperation",
    "certificateHold": "certificateHold",
    "removeFromCRL": "removeFromCRL",
}
_FROM_OPENSSL = {v.lower(): k for k, v in _TO_OPENSSL.items()}
UNREPRESENTABLE_REASONS = frozenset(REASONS) - frozenset(_TO_OPENSSL)
# RFC 5280 5.3.2 holdInstructionCode; OpenSSL insists on one for a hold.
_HOLD_INSTRUCTION = "holdInstructionNone"


def _format_time(when: dt.datetime) -> str:
    when = when.astimezone(dt.UTC)
    return when.strftime("%y%m%d%H%M%SZ" if when.year < 2050 else "%Y%m%d%H%M%SZ")


def _revocation_field(record: Record) -> str:
    if not record.is_revoked or record.revoked_at is None:
        return ""
    field = _format_time(record.revoked_at)
    if record.reason is not None:
        field += "," + _TO_OPENSSL.get(record.reason, "unspecified")
        if record.reason == "certificateHold":
            field += "," + _HOLD_INSTRUCTION
    return field


def _serial_hex(serial: int) -> str:
    text = format(serial, "X")
    return text if len(text) % 2 == 0 else "0" + text


def index_line(record: Record, *, now: dt.datetime) -> str:
    """``record``'s index.txt line, newline included (``E`` once past notAfter)."""
    if record.is_revoked:
        status = "R"
    elif record.not_after <= now:
        status = "E"
    else:
        status = "V"
    fields = (
        status,
        _format_time(record.not_after),
        _revocation_field(record),
        _serial_hex(record.serial),
        "unknown",
        record.subject,
    )
    return "\t".join(fields) + "\n"


def export_index(database: RecordReader, ca: str, *, now: dt.datetime) -> str:
    """``ca``'s records as index.txt text (certificates past notAfter are ``E``)."""
    return "".join(index_line(record, now=now) for record in database.records(ca))


class IndexEntry(NamedTuple):
    """One line of an index.txt, read and checked (a transient value: nothing keeps these)."""

    line: int  # from 1
    status: str  # "V", "R" or "E", as written
    serial: int
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: str | None  # RFC 5280 CRLReason name; None: revoked without a reasonCode
    subject: str

    @property
    def record_status(self) -> RecordStatus:
        """How the lab files it: revoked, on hold (certificateHold), or good (V and E)."""
        if self.status != "R":
            return RecordStatus.GOOD
        return RecordStatus.HOLD if self.reason == "certificateHold" else RecordStatus.REVOKED


# The whole line in one match (C speed for a million lines); a line that does not
# match is taken apart again by _diagnose, slowly, to say which field is wrong.
_LINE = re.compile(r"([VRE])\t(\d{12}Z|\d{14}Z)\t([^\t\n]*)\t([0-9A-F]+)\t[^\t\n]*\t([^\t\n]*)\n")
_TIME = re.compile(r"\d{12}Z|\d{14}Z")
#: RFC 5280 4.1.2.2: at most 20 octets; OpenSSL compares serials without leading zeros.
_MAX_SERIAL_DIGITS = 40
# Revocation fields of `openssl ca` besides a plain reason (apps/ca.c
# make_revocation_str): -crl_hold writes "holdInstruction,<OID>", -crl_compromise
# "keyTime,<GeneralizedTime>", -crl_CA_compromise "CAkeyTime,<GeneralizedTime>".
# `openssl ocsp -index` answers them certificateHold, keyCompromise and
# cACompromise (apps/ca.c unpack_revinfo), each with an argument it requires.
_WITH_ARGUMENT = {
    "holdinstruction": "certificateHold",
    "keytime": "keyCompromise",
    "cakeytime": "cACompromise",
}


def _time(text: str, where: str, key: str) -> dt.datetime:
    """UTCTime (YY < 50: 20YY, RFC 5280 4.1.2.5.1) or GeneralizedTime, checked."""
    if not _TIME.fullmatch(text):
        raise PKIError(f"{where}: {key} {text!r} is not a date like 250101000000Z")
    if len(text) == 13:
        year = int(text[:2])
        year += 2000 if year < 50 else 1900
        rest = text[2:]
    else:
        year, rest = int(text[:4]), text[4:]
    try:
        return dt.datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), int(rest[8:10]),
            tzinfo=dt.UTC,
        )  # fmt: skip
    except ValueError:
        raise PKIError(f"{where}: {key} {text!r} is not a date like 250101000000Z") from None


def _revocation(text: str, where: str) -> tuple[dt.datetime, str | None]:
    parts = text.split(",")
    if not parts[0]:
        raise PKIError(
            f"{where}: status R needs a revocation date (like 250101000000Z), found none"
        )
    at = _time(parts[0], where, "revocation date")
    if len(parts) == 1:
        return at, None  # openssl answers revoked without a reasonCode
    name = parts[1].lower()
    if name in _WITH_ARGUMENT:
        if len(parts) != 3 or not parts[2]:
            raise PKIError(
                f"{where}: revocation reason {parts[1]!r} needs an argument after a comma"
            )
        if name != "holdinstruction":
            _time(parts[2], where, "compromise time")
        return at, _WITH_ARGUMENT[name]
    reason = _FROM_OPENSSL.get(name)
    if reason is None:
        raise PKIError(
            f"{where}: unknown revocation reason {parts[1]!r} (expected one of "
            f"{', '.join([*_TO_OPENSSL.values(), 'holdInstruction', 'keyTime', 'CAkeyTime'])})"
        )
    if reason == "certificateHold" and len(parts) == 3:
        return at, reason  # the lab's own form: certificateHold,holdInstructionNone
    if len(parts) != 2:
        raise PKIError(
            f"{where}: revocation {text!r} has more fields than reason {parts[1]!r} takes"
        )
    return at, reason


def _diagnose(line: str, where: str) -> PKIError:
    """What is wrong with a line the fast pattern refused."""
    if not line.endswith("\n"):
        # TXT_DB_read drops a last line without its newline: openssl would not know it.
        return PKIError(f"{where}: the last line has no newline (openssl ocsp -index ignores it)")
    fields = line[:-1].split("\t")
    if len(fields) != 6:
        return PKIError(f"{where}: expected 6 tab-separated fields, found {len(fields)}")
    status, expiry, _revocation_field, serial, _file, _subject = fields
    if status not in ("V", "R", "E"):
        return PKIError(f"{where}: status {status!r} is not V, R or E")
    try:
        _time(expiry, where, "expiry date")
    except PKIError as exc:
        return exc
    if not re.fullmatch(r"[0-9A-Fa-f]+", serial):
        return PKIError(f"{where}: serial {serial!r} is not hexadecimal")
    if serial != serial.upper():
        # OpenSSL looks serials up as upper-case text (BN_bn2hex): a lower-case one never matches.
        return PKIError(
            f"{where}: serial {serial!r} is not upper-case hexadecimal, as openssl writes it"
        )
    return PKIError(f"{where}: unreadable line {line[:-1]!r}")


def read_index_lines(
    lines: Iterable[str], *, source: str = "index.txt", first: int = 1
) -> Iterator[IndexEntry]:
    """Each line of an index.txt (with its newline), checked as ``openssl ocsp -index`` reads it.

    ``#`` lines are comments (TXT_DB_read skips them) and blank lines are
    skipped; anything else must be six tab-separated fields. A bad line raises
    :class:`PKIError` naming ``source`` and the line number. One line at a time:
    a million-line file is never held in memory.
    """
    match = _LINE.fullmatch
    for number, line in enumerate(lines, start=first):
        found = match(line)
        if found is None:
            if line.startswith("#") or not line.strip():
                continue
            raise _diagnose(line, f"{source}:{number}")
        status, expiry, revocation, serial_hex, subject = found.groups()
        where = f"{source}:{number}"
        digits = serial_hex.lstrip("0")
        if len(digits) > _MAX_SERIAL_DIGITS:
            raise PKIError(
                f"{where}: serial {serial_hex!r} is longer than 20 octets (RFC 5280 4.1.2.2)"
            )
        not_after = _time(expiry, where, "expiry date")
        revoked_at = reason = None
        if status == "R":
            revoked_at, reason = _revocation(revocation, where)
        elif revocation:
            raise PKIError(
                f"{where}: status {status} takes no revocation field, found {revocation!r}"
            )
        yield IndexEntry(
            number, status, int(digits or "0", 16), not_after, revoked_at, reason, subject
        )


def read_index(path: Path) -> Iterator[IndexEntry]:
    """The checked lines of the index.txt at ``path`` (:func:`read_index_lines`), streamed."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="\n") as lines:
            yield from read_index_lines(lines, source=str(path))
    except UnicodeDecodeError as exc:
        raise PKIError(f"{path}: not an index.txt (not text: {exc.reason})") from None
    except OSError as exc:
        raise PKIError(f"{path}: cannot read ({exc.strerror})") from None


# The fast path of scan_index: a V or E line, or an R line with a plain reason, whose
# dates are plainly valid, checked whole by one match (C speed). Anything else (29
# February, a hold instruction, a reason spelled otherwise …) goes through read_index_lines.
_DAY = (
    # month and day of a date that exists in every year (29 February: the slow path)
    rb"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)|(?:0[13578]|1[02])31)"
    rb"(?:[01]\d|2[0-3])[0-5]\d[0-5]\dZ"
)
_WHEN = rb"(?:\d\d" + _DAY + rb"|\d{4}" + _DAY + rb")"
_PLAIN_REASONS = rb"|".join(
    v.encode()
    for v in _TO_OPENSSL.values()
    if v != "certificateHold"  # hold: its own form
)
_PLAIN = re.compile(
    rb"(?:[VE]\t" + _WHEN + rb"\t|R\t" + _WHEN + rb"\t" + _WHEN + rb"(?:,(?:" + _PLAIN_REASONS
    + rb"))?)\t0*([0-9A-F]{1,40})\t[^\t\n]*\t[^\t\n]*\n"
)  # fmt: skip


def serial_digits(serial: int) -> bytes:
    """A serial as :func:`scan_index` keys it: upper-case hex, no leading zeros (as
    ``openssl ocsp -index`` compares serials: apps/lib/apps.c index_serial_cmp)."""
    return format(serial, "X").encode()


def scan_index(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """(line number, :func:`serial_digits`, byte offset) of each line of the index.txt at ``path``.

    Each line is checked as :func:`read_index_lines` checks it (a bad one is a
    :class:`PKIError` naming the file and line), but a plain V or E line — most
    of a CA's file — costs one regular-expression match, so a million lines go
    by in about a second and none is kept. Comments and blank lines are skipped.
    """
    path = Path(path)
    plain = _PLAIN.fullmatch
    source = str(path)
    offset = 0
    try:
        with path.open("rb") as lines:
            for number, line in enumerate(lines, start=1):
                found = plain(line)
                if found is not None:
                    yield number, found.group(1), offset
                else:
                    try:
                        text = line.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise PKIError(
                            f"{source}:{number}: not an index.txt line (not text: {exc.reason})"
                        ) from None
                    for entry in read_index_lines([text], source=source, first=number):
                        yield number, serial_digits(entry.serial), offset
                offset += len(line)
    except OSError as exc:
        raise PKIError(f"{path}: cannot read ({exc.strerror})") from None


def line_record(line: bytes, ca: str, *, source: str = "index.txt") -> Record:
    """The :class:`Record` of one (already checked) index.txt line, filed under ``ca``."""
    text = line.decode("utf-8", errors="backslashreplace")
    entries = list(read_index_lines([text if text.endswith("\n") else text + "\n"], source=source))
    if len(entries) != 1:
        raise PKIError(f"{source}: expected an index.txt line, found {text!r}")
    entry = entries[0]
    return Record(
        ca=ca,
        serial=entry.serial,
        status=entry.record_status,
        not_after=entry.not_after,
        subject=entry.subject,
        revoked_at=entry.revoked_at,
        reason=entry.reason,
        index_status=entry.status,
    )


def import_index(text: str, ca: str, *, source: str = "index.txt") -> list[Record]:
    """Records from index.txt text, filed under ``ca``. Bad lines name file and line.

    Two lines with one serial are refused, as ``openssl ocsp -index`` refuses
    to start on them (its serial index is unique).
    """
    records: dict[int, Record] = {}
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # text given here has no file end to lose a line at
    for entry in read_index_lines(lines, source=source):
        if entry.serial in records:
            raise PKIError(
                f"{source}:{entry.line}: serial {entry.serial:X} is on an earlier line too "
                "(expected each serial once: openssl ocsp -index refuses the file)"
            )
        records[entry.serial] = Record(
            ca=ca,
            serial=entry.serial,
            status=entry.record_status,
            not_after=entry.not_after,
            subject=entry.subject,
            revoked_at=entry.revoked_at,
            reason=entry.reason,
        )
    return list(records.values())


def write_index(database: RecordReader, ca: str, directory: Path, *, now: dt.datetime) -> Path:
    """Write ``<ca>.index.txt`` and its ``.attr`` beside it; return the index path."""
    path = Path(directory) / f"{ca}.index.txt"
    atomic_write(path, export_index(database, ca, now=now).encode())
    atomic_write(path.with_name(path.name + ".attr"), ATTR_FILE.encode())
    return path
