"""The certificate database: what the responder knows, the single source of truth.

Per issuing CA, serial → :class:`Record` (good, revoked with reason and time,
on hold). No record is the "unknown" of SCENARIOS.md: the responder has never
heard of the certificate. Readers get an immutable snapshot; every change
makes a new snapshot and bumps :attr:`CertificateDatabase.version`, so a
responder can cache signed answers per version. Saving is atomic (write,
fsync, rename, fsync the directory): a crash leaves the old file or the new
one, never half of either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from pki.builder import PKI
from pki.errors import PKIError
from pki.spec import REASONS, RecordStatus

__all__ = ["CertificateDatabase", "Record", "atomic_write", "oneline_subject"]

_FORMAT = "ocsp-lab database/1"


@dataclass(frozen=True)
class Record:
    """One certificate known to the responder."""

    ca: str  # the issuing CA's name in the lab
    serial: int
    status: RecordStatus  # GOOD, REVOKED or HOLD; never UNKNOWN (that is "no record")
    not_after: dt.datetime
    subject: str  # OpenSSL one-line form, as index.txt has it: /O=ocsp-lab/CN=server
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # RFC 5280 CRLReason name; HOLD is always certificateHold
    name: str | None = None  # the lab certificate's name, when it is one of ours
    #: The status letter of the index.txt line this record was read from ("V", "R",
    #: "E"), for a certificate the lab never made ([responder] index); None otherwise.
    index_status: str | None = None

    @property
    def is_revoked(self) -> bool:
        """Revoked or on hold: both answer ``revoked`` (RFC 6960 2.2)."""
        return self.status is not RecordStatus.GOOD


def _oneline_byte(b: int) -> str:
    if not 0x20 <= b <= 0x7E:
        return f"\\x{b:02X}"
    # OpenSSL 3 also escapes the separators of the one-line form itself.
    return "\\" + chr(b) if chr(b) in "/+" else chr(b)


def _oneline_value(value: str) -> str:
    # As OpenSSL's X509_NAME_oneline (crypto/x509/x509_obj.c), which `openssl ca`
    # writes into index.txt: every byte of the string outside ' '..'~' becomes
    # \xHH, and '/' and '+' get a backslash. So a tab or a newline in a subject
    # cannot split an index.txt line into fields or lines of its own, and the
    # file reads as OpenSSL's would.
    return "".join(_oneline_byte(b) for b in value.encode("utf-8"))


def oneline_subject(name: Any) -> str:
    """An :class:`x509.Name` in OpenSSL's ``/O=…/CN=…`` form (index.txt's last field).

    Bytes outside printable ASCII are escaped as ``\\xHH``, ``/`` and ``+`` as
    ``\\/`` and ``\\+``, as ``openssl ca`` (OpenSSL 3) does.
    """
    return "".join(f"/{a.rfc4514_attribute_name}={_oneline_value(a.value)}" for a in name)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)


_Key = tuple[str, int]


class RecordReader(Protocol):
    """What answering and exporting read of a certificate database (in memory or live)."""

    @property
    def version(self) -> int: ...

    def lookup(self, ca: str, serial: int) -> Record | None: ...

    def records(self, ca: str | None = None) -> list[Record]: ...

    def by_name(self, name: str) -> Record | None: ...


class CertificateDatabase:
    """Thread-safe, versioned map of (CA name, serial) → :class:`Record`."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._lock = threading.Lock()
        self._records: Mapping[_Key, Record] = MappingProxyType(
            {(r.ca, r.serial): r for r in records}
        )
        self._version = 0

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def from_pki(cls, pki: PKI) -> CertificateDatabase:
        """Every certificate of ``pki``, with the statuses of its ``[database]``.

        A self-signed certificate is filed under itself as issuer. Entries with
        status ``unknown`` get no record at all.
        """
        records: list[Record] = []
        issued: dict[tuple[str, int], str] = {}
        for cert in pki:
            # RFC 5280 4.1.2.2: a serial is unique per issuer. Two would be one
            # CertID (RFC 6960 4.1.1), so the responder could not tell them apart.
            ca = cert.issuer or cert.name
            other = issued.setdefault((ca, cert.serial), cert.name)
            if other != cert.name:
                raise PKIError(
                    f"certificates {other!r} and {cert.name!r} of issuer {ca!r} have the "
                    f"same serial 0x{cert.serial:X} (expected a serial unique per issuer)"
                )
            entry = pki.spec.database.get(cert.name)
            status = entry.status if entry else RecordStatus.GOOD
            if status is RecordStatus.UNKNOWN:
                continue
            record = Record(
                ca=ca,
                serial=cert.serial,
                status=RecordStatus.GOOD,
                not_after=cert.certificate.not_valid_after_utc,
                subject=oneline_subject(cert.certificate.subject),
                name=cert.name,
            )
            if entry and status is not RecordStatus.GOOD:
                record = _revoked(record, status, entry.reason, pki.t0 + entry.since)
            records.append(record)
        return cls(records)

    # ---- reading --------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped by every change: a cache key for answers signed from this state."""
        return self._version

    def lookup(self, ca: str, serial: int) -> Record | None:
        return self._records.get((ca, serial))

    def records(self, ca: str | None = None) -> list[Record]:
        """All records (of one CA), in serial order."""
        items = self._records.values()
        return sorted(
            (r for r in items if ca is None or r.ca == ca), key=lambda r: (r.ca, r.serial)
        )

    def by_name(self, name: str) -> Record | None:
        for record in self._records.values():
            if record.name == name:
                return record
        return None

    def __len__(self) -> int:
        return len(self._records)

    # ---- changing -------------------------------------------------------------------------

    def _require(self, name: str) -> Record:
        record = self.by_name(name)
        if record is None:
            raise PKIError(f"certificate {name!r} has no record in the database")
        return record

    def put(self, record: Record) -> None:
        with self._lock:
            new = dict(self._records)
            new[(record.ca, record.serial)] = record
            self._records = MappingProxyType(new)
            self._version += 1

    def revoke(self, name: str, at: dt.datetime, reason: str | None = None) -> Record:
        """Revoke ``name`` (``certificateHold`` puts it on hold instead)."""
        status = RecordStatus.HOLD if reason == "certificateHold" else RecordStatus.REVOKED
        record = _revoked(self._require(name), status, reason, at)
        self.put(record)
        return record

    def hold(self, name: str, at: dt.datetime) -> Record:
        """Put a good certificate on hold; a revoked one stays revoked (RFC 5280 5.3.1:
        only certificateHold is temporary, so hold-then-release must not unrevoke it)."""
        if self._require(name).status is RecordStatus.REVOKED:
            raise PKIError(f"certificate {name!r} is revoked: it cannot be put on hold")
        return self.revoke(name, at, "certificateHold")

    def release(self, name: str) -> Record:
        """Take a certificate off hold (RFC 5280 5.3.1 removeFromCRL): good again."""
        record = self._require(name)
        if record.status is RecordStatus.REVOKED:
            raise PKIError(f"certificate {name!r} is revoked, not on hold: it cannot be released")
        record = replace(record, status=RecordStatus.GOOD, revoked_at=None, reason=None)
        self.put(record)
        return record

    def forget(self, ca: str, serial: int) -> None:
        """Drop the record: the responder answers as for a certificate it never issued."""
        with self._lock:
            new = dict(self._records)
            if new.pop((ca, serial), None) is not None:
                self._records = MappingProxyType(new)
                self._version += 1

    def replace_all(self, other: CertificateDatabase) -> None:
        """Take ``other``'s records (a reload from disk), as one change."""
        with self._lock:
            self._records = other._records
            self._version += 1

    # ---- persistence ----------------------------------------------------------------------

    def to_json(self) -> bytes:
        rows = [
            {
                "ca": r.ca,
                "serial": format(r.serial, "X"),
                "status": r.status.value,
                "not_after": r.not_after.isoformat(),
                "subject": r.subject,
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
                "reason": r.reason,
                "name": r.name,
            }
            for r in self.records()
        ]
        return json.dumps({"format": _FORMAT, "records": rows}, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, *, source: str = "database") -> CertificateDatabase:
        try:
            doc = json.loads(data)
            if doc.get("format") != _FORMAT:
                raise PKIError(f"{source}: not an ocsp-lab database (format {_FORMAT!r})")
            return cls(
                Record(
                    ca=row["ca"],
                    serial=int(row["serial"], 16),
                    status=RecordStatus(row["status"]),
                    not_after=dt.datetime.fromisoformat(row["not_after"]),
                    subject=row["subject"],
                    revoked_at=(
                        dt.datetime.fromisoformat(row["revoked_at"]) if row["revoked_at"] else None
                    ),
                    reason=row["reason"],
                    name=row["name"],
                )
                for row in doc["records"]
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, PKIError):
                raise
            raise PKIError(f"{source}: unreadable database ({exc})") from None

    def save(self, path: Path) -> None:
        atomic_write(Path(path), self.to_json())

    @classmethod
    def load(cls, path: Path) -> CertificateDatabase:
        return cls.from_json(Path(path).read_bytes(), source=str(path))


def _revoked(record: Record, status: RecordStatus, reason: str | None, at: dt.datetime) -> Record:
    if status is RecordStatus.HOLD:
        reason = "certificateHold"
    elif reason == "certificateHold":
        status = RecordStatus.HOLD
    if reason is not None and reason not in REASONS:
        raise PKIError(
            f"unknown revocation reason {reason!r}: expected one of {', '.join(REASONS)}"
        )
    return replace(record, status=status, revoked_at=at, reason=reason)
