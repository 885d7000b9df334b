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
from pathlib import Path

from pki.database import Record, RecordReader, atomic_write
from pki.errors import PKIError
from pki.spec import REASONS, RecordStatus

__all__ = [
    "ATTR_FILE",
    "UNREPRESENTABLE_REASONS",
    "export_index",
    "import_index",
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


def _parse_time(text: str, where: str) -> dt.datetime:
    for fmt in ("%y%m%d%H%M%SZ", "%Y%m%d%H%M%SZ"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise PKIError(f"{where}: {text!r} is not a date like 250101000000Z")


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


def export_index(database: RecordReader, ca: str, *, now: dt.datetime) -> str:
    """``ca``'s records as index.txt text (certificates past notAfter are ``E``)."""
    lines = []
    for record in database.records(ca):
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
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def import_index(text: str, ca: str, *, source: str = "index.txt") -> list[Record]:
    """Records from index.txt text, filed under ``ca``. Bad lines name file and line."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        fields = line.split("\t")
        if len(fields) != 6:
            raise PKIError(f"{where}: expected 6 tab-separated fields, found {len(fields)}")
        status, expiry, revocation, serial_hex, _file, subject = fields
        if status not in ("V", "R", "E"):
            raise PKIError(f"{where}: status {status!r} is not V, R or E")
        try:
            serial = int(serial_hex, 16)
        except ValueError:
            raise PKIError(f"{where}: serial {serial_hex!r} is not hexadecimal") from None
        record = Record(
            ca=ca,
            serial=serial,
            status=RecordStatus.GOOD,
            not_after=_parse_time(expiry, where),
            subject=subject,
        )
        if status == "R":
            parts = revocation.split(",")
            reason = None
            if len(parts) > 1:
                reason = _FROM_OPENSSL.get(parts[1].lower())
                if reason is None:
                    raise PKIError(f"{where}: unknown revocation reason {parts[1]!r}")
            record = Record(
                ca=ca,
                serial=serial,
                status=RecordStatus.HOLD if reason == "certificateHold" else RecordStatus.REVOKED,
                not_after=record.not_after,
                subject=subject,
                revoked_at=_parse_time(parts[0], where),
                reason=reason,
            )
        records.append(record)
    return records


def write_index(database: RecordReader, ca: str, directory: Path, *, now: dt.datetime) -> Path:
    """Write ``<ca>.index.txt`` and its ``.attr`` beside it; return the index path."""
    path = Path(directory) / f"{ca}.index.txt"
    atomic_write(path, export_index(database, ca, now=now).encode())
    atomic_write(path.with_name(path.name + ".attr"), ATTR_FILE.encode())
    return path
