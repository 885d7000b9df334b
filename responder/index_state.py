"""``[responder] index``: OpenSSL CA databases (index.txt) served at a real CA's scale.

Serials of a CA that the lab never made are answered from that CA's
index.txt as ``openssl ocsp -index`` answers them (V good; R revoked with its
time and reason; a serial not in the file unknown); a record of the lab's own
(a ``[database]`` entry, a live change) wins over the file's line.

**In memory** (``run``, ``check``, ``explain``): :class:`MemoryIndex` scans the
file once (:func:`pki.openssl_index.scan_index`) into serial → byte offset
and reads a line only when it is asked about.

**Live state** (``serve``): :class:`LiveIndex`. At a fresh start the file is
imported in the live state's opening transaction: one ``executemany`` of
(serial, byte offset) rows into ``index_small`` (serials of up to 56 bits,
under an integer key) and, in a second pass only if the file has any, one
into ``index_lines`` for wider serials; both streamed from the scan (no line
is kept in Python). The serve directory gets the CA's
``<ca>.index.txt``, a byte-for-byte copy of the file (``copy_file_range``:
no line passes through Python) with the lab's own records of that CA in it,
and those tables say where each serial's line is in it. An answer looks
the serial up in ``records`` (the lab's and the changed ones), then in
the index tables (a primary key: one B-tree lookup), and reads that one line.
A restart on the same file (same SHA-256: about 60 ms for 100 MB) keeps the
imported state; nothing is scanned.

**Written back, fast and crash-safe.** A live change (revoke, hold, release,
forget — of a lab certificate or of an index serial) must reach the exported
index.txt, which ``openssl ocsp -index`` reads, and a 1,000,000-line file is
about 100 MB: writing it anew (temp file, fsync, rename) is too slow for the
50 ms a change may take — measured on 97 MB: 370 ms line by line from Python,
and still 90 to 140 ms as a kernel copy (``copy_file_range``) with the one
changed line spliced in, fsync and rename (the fsync of 100 MB is most of it).
OpenSSL's line changes length when a certificate is revoked (the revocation
field fills), so it cannot be overwritten where it is either. Instead a change
touches only two places:

1. the old line is overwritten, in place and at its own length, by a comment
   (``#`` and spaces: TXT_DB_read skips a line starting with ``#``);
2. the new line is appended at the end of the file.

A line of the same length (none of OpenSSL's changes, but a release after a
release) is overwritten in place. Both writes are first put in a journal
(``<ca>.index.txt-journal``: offsets and bytes, with a SHA-256 of itself),
fsynced, then made, fsynced, and the journal removed: after a crash the
journal is replayed at the next start (redo; both writes are idempotent) or,
if it is incomplete, ignored (the file was not touched yet). The file is thus
always either before or after a change, never between, as with a rename; it
never holds two lines of one serial (OpenSSL refuses such a file). What
changes is the file's order: changed lines move to its end (OpenSSL does not
care), and each change leaves a comment line behind (a few dozen bytes).
Writers of all workers take ``<ca>.index.txt-lock`` (flock) in turn, and each
writes the serial's *current* record, so concurrent changes end right in any
order. A reader that reads the file at the very moment of the two writes
(microseconds) may see the old line commented out and the new one not yet
there; ``openssl ocsp`` reloads the file on its next change of mtime.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pki import PKIError, Record
from pki.database import RecordReader
from pki.openssl_index import ATTR_FILE, index_line, line_record, scan_index, serial_digits

__all__ = [
    "IndexedDatabase",
    "LiveIndex",
    "MemoryIndex",
    "index_fingerprint",
]

#: Serials of at most 56 bits (14 hex digits: ``openssl ca``'s sequential ones) are kept in
#: ``index_small`` under an integer key, (CA rank << 56) | serial — SQLite's rowid B-tree,
#: 2.5 times faster to fill than ``index_lines``' (CA, serial) keys, which take the rest.
_SMALL_DIGITS = 14
_SMALL_BITS = 56
_SMALL_LIMIT = 1 << _SMALL_BITS
_Query = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


def _on(cursor: sqlite3.Cursor) -> _Query:
    return lambda sql, args: cursor.execute(sql, args).fetchall()


#: A line is read with one pread of this size (longer ones are read on).
_READ = 1024
_FINGERPRINTS: dict[tuple[str, int, int, int], str] = {}


def index_fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes (about 60 ms for 100 MB), remembered per size+mtime+inode.

    It is what makes the live state the one of *this* index (responder.app.served_identity):
    an edited index is imported again, an unchanged one is not.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PKIError(f"{path}: cannot read ({exc.strerror})") from None
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    known = _FINGERPRINTS.get(key)
    if known is None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        known = _FINGERPRINTS[key] = digest.hexdigest()
    return known


def _read_line(fd: int, offset: int) -> bytes:
    """The line that starts at ``offset`` of the open file ``fd``, newline included."""
    data = b""
    while True:
        chunk = os.pread(fd, _READ, offset + len(data))
        if not chunk:
            return data
        data += chunk
        end = data.find(b"\n")
        if end >= 0:
            return data[: end + 1]


def _line_serial(line: bytes) -> bytes | None:
    fields = line.split(b"\t")
    return fields[3].lstrip(b"0") or b"0" if len(fields) == 6 else None


class _IndexReader(Protocol):
    def lookup(self, ca: str, serial: int) -> Record | None: ...


class MemoryIndex:
    """Index lines for a responder without live state: serial → offset, lines read on demand."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self._files: dict[str, tuple[Path, dict[bytes, int]]] = {}
        for ca, path in files.items():
            offsets: dict[bytes, int] = {}
            try:
                for number, serial, offset in scan_index(path):
                    if offsets.setdefault(serial, offset) != offset:
                        raise _duplicate(path, number, serial)
            except PKIError as exc:
                raise PKIError(f"{exc} (key responder.index.{ca})") from None
            self._files[ca] = (Path(path), offsets)

    def lookup(self, ca: str, serial: int) -> Record | None:
        entry = self._files.get(ca)
        if entry is None:
            return None
        path, offsets = entry
        offset = offsets.get(serial_digits(serial))
        if offset is None:
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            return line_record(_read_line(fd, offset), ca, source=str(path))
        finally:
            os.close(fd)


def _first_duplicate(path: Path) -> PKIError:
    seen: set[bytes] = set()
    for number, serial, _offset in scan_index(path):
        if serial in seen:
            return _duplicate(path, number, serial)
        seen.add(serial)
    return PKIError(f"{path}: a serial is on two lines (openssl ocsp -index refuses such a file)")


def _duplicate(path: Path, number: int, serial: bytes) -> PKIError:
    return PKIError(
        f"{path}:{number}: serial {serial.decode()} is on an earlier line too "
        "(expected each serial once: openssl ocsp -index refuses such a file)"
    )


class IndexedDatabase:
    """A :class:`pki.database.RecordReader`: the lab's records, then the index lines.

    ``records`` and ``by_name`` are the lab's alone (an index line has no name,
    and a million of them are no list to show).
    """

    def __init__(self, base: RecordReader, index: _IndexReader) -> None:
        self.base = base
        self.index = index

    @property
    def version(self) -> int:
        return self.base.version

    def lookup(self, ca: str, serial: int) -> Record | None:
        return self.base.lookup(ca, serial) or self.index.lookup(ca, serial)

    def records(self, ca: str | None = None) -> list[Record]:
        return self.base.records(ca)

    def by_name(self, name: str) -> Record | None:
        return self.base.by_name(name)


# ---- the live state ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Write:
    offset: int
    data: bytes


class LiveIndex:
    """``[responder] index`` in a serve directory: import, answers, write-back.

    ``files`` maps a CA's name to its index.txt; ``directory`` is the serve
    directory, where ``<ca>.index.txt`` is the exported copy kept current.
    """

    def __init__(self, files: Mapping[str, Path], directory: Path) -> None:
        self.files = {ca: Path(path) for ca, path in files.items()}
        self.directory = Path(directory)
        if len(self.files) > 127:
            raise PKIError("[responder] index: at most 127 CAs")
        self._query: _Query | None = None
        self._fds: dict[str, tuple[int, int, int]] = {}  # ca -> (pid, inode, fd)

    def export_path(self, ca: str) -> Path:
        return self.directory / f"{ca}.index.txt"

    # ---- importing (in the live state's opening transaction) ---------------------------

    def importer(self, now: Callable[[], dt.datetime]) -> Any:
        """The :data:`responder.store.Importer`: a write-back a crash interrupted is
        finished (its journal); then each file is imported when the state is fresh or
        its export is not the one the state knows (removed, replaced, edited by hand)."""

        def run(cursor: sqlite3.Cursor, fresh: bool) -> None:
            for ca, path in self.files.items():
                try:
                    if not fresh:
                        self._recover(cursor, ca)
                    if fresh or not self._export_current(cursor, ca):
                        self._import(cursor, ca, path, now())
                except PKIError as exc:
                    raise PKIError(f"{exc} (key responder.index.{ca})") from None

        return run

    def _export_current(self, cursor: sqlite3.Cursor, ca: str) -> bool:
        row = cursor.execute("SELECT value FROM meta WHERE key = ?", (f"export:{ca}",)).fetchone()
        return row is not None and row[0] == _stat_key(self.export_path(ca))

    def _import(self, cursor: sqlite3.Cursor, ca: str, path: Path, now: dt.datetime) -> None:
        from responder.store import _COLUMNS, _record

        base = self._base(ca)
        cursor.execute("DELETE FROM index_lines WHERE ca = ?", (ca,))
        cursor.execute(
            "DELETE FROM index_small WHERE key >= ? AND key < ?", (base, base + _SMALL_LIMIT)
        )
        wide = 0

        def small() -> Iterator[tuple[int, int]]:
            nonlocal wide
            for _number, serial, offset in scan_index(path):
                if len(serial) <= _SMALL_DIGITS:
                    yield base | int(serial, 16), offset
                else:
                    wide += 1

        try:
            cursor.executemany("INSERT INTO index_small (key, offset) VALUES (?, ?)", small())
            if wide:  # a second pass for serials beyond 56 bits (random ones, mostly)
                cursor.executemany(
                    "INSERT INTO index_lines (ca, serial, offset) VALUES (?, ?, ?)",
                    (
                        (ca, serial, offset)
                        for _number, serial, offset in scan_index(path)
                        if len(serial) > _SMALL_DIGITS
                    ),
                )
        except sqlite3.IntegrityError:
            raise _first_duplicate(path) from None  # rare: found again, then named
        target = self.export_path(ca)
        tmp = target.with_name(f".{target.name}.import")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        _copy(path, tmp)
        # The lab's own records of this CA (a [database] entry wins over the file's line):
        # the file's line of that serial becomes a comment, the lab's is appended.
        fd = os.open(tmp, os.O_RDWR)
        try:
            end = os.fstat(fd).st_size
            if end and _read_tail(fd, end) != b"\n":
                os.pwrite(fd, b"\n", end)  # scan_index refused a last line without one
                end += 1
            # The records rows: the lab's, and at a re-import every live change too.
            ours = cursor.execute(
                f"SELECT {_COLUMNS} FROM records WHERE ca = ? ORDER BY serial", (ca,)
            ).fetchall()
            for record in map(_record, ours):
                key = serial_digits(record.serial)
                found = self._offset(_on(cursor), ca, key)
                if found is not None:
                    old = _read_line(fd, found)
                    os.pwrite(fd, _comment(len(old)), found)
                line = index_line(record, now=now).encode()
                os.pwrite(fd, line, end)
                self._set_offset(_on(cursor), ca, key, end)
                end += len(line)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        _write_small(target.with_name(target.name + ".attr"), ATTR_FILE.encode())
        _fsync_dir(self.directory)
        self._journal(ca).unlink(missing_ok=True)
        cursor.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (f"export:{ca}", _stat_key(target)),
        )

    # ---- where a serial's line is ----------------------------------------------------------

    def _base(self, ca: str) -> int:
        """The CA's range of ``index_small`` keys: its rank among the indexed CAs, on top."""
        return sorted(self.files).index(ca) << _SMALL_BITS

    def _place(self, ca: str, key: bytes) -> tuple[str, tuple[Any, ...]]:
        if len(key) <= _SMALL_DIGITS:
            return "index_small WHERE key = ?", (self._base(ca) | int(key, 16),)
        return "index_lines WHERE ca = ? AND serial = ?", (ca, key)

    def _offset(self, query: _Query, ca: str, key: bytes) -> int | None:
        where, args = self._place(ca, key)
        rows = query(f"SELECT offset FROM {where}", args)
        return int(rows[0][0]) if rows else None

    def _set_offset(self, query: _Query, ca: str, key: bytes, offset: int | None) -> None:
        where, args = self._place(ca, key)
        query(f"DELETE FROM {where}", args)
        if offset is None:
            return
        if len(key) <= _SMALL_DIGITS:
            query("INSERT INTO index_small (key, offset) VALUES (?, ?)", (*args, offset))
        else:
            query("INSERT INTO index_lines (ca, serial, offset) VALUES (?, ?, ?)", (*args, offset))

    # ---- answering ----------------------------------------------------------------------

    def attach(self, query: _Query) -> None:
        """Answer through ``query`` (the live store's, per process)."""
        self._query = query

    def _fd(self, ca: str) -> int:
        """This process's descriptor of the export (opened after a fork; again if replaced)."""
        path = self.export_path(ca)
        ino = os.stat(path).st_ino
        known = self._fds.get(ca)
        if known is not None and known[0] == os.getpid() and known[1] == ino:
            return known[2]
        fd = os.open(path, os.O_RDONLY)
        self._fds[ca] = (os.getpid(), ino, fd)
        return fd

    def lookup(self, ca: str, serial: int) -> Record | None:
        """The index line's record of ``ca``'s ``serial`` (None: not in the index)."""
        if ca not in self.files or self._query is None:
            return None
        key = serial_digits(serial)
        offset = self._offset(self._query, ca, key)
        if offset is None:
            return None
        try:
            line = _read_line(self._fd(ca), offset)
        except OSError as exc:
            raise PKIError(f"{self.export_path(ca)}: cannot read ({exc.strerror})") from None
        if _line_serial(line) != key:
            raise PKIError(
                f"{self.export_path(ca)}: no line of serial {key.decode()} where the live "
                "state has it (the file was edited by hand?); restart serve to import it again"
            )
        return line_record(line, ca, source=str(self.export_path(ca)))

    # ---- writing back -------------------------------------------------------------------

    def _journal(self, ca: str) -> Path:
        return self.directory / f"{ca}.index.txt-journal"

    @contextlib.contextmanager
    def _locked(self, ca: str) -> Iterator[None]:
        fd = os.open(self.directory / f"{ca}.index.txt-lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # every worker's writer, one at a time
            yield
        finally:
            os.close(fd)

    def write_back(
        self,
        ca: str,
        serial: int,
        current: Record | None,
        store: Any,
        now: dt.datetime,
    ) -> None:
        """Make ``<ca>.index.txt`` say what ``current`` (the committed record, or None)
        says of ``serial``; ``store`` is the :class:`responder.store.LiveStore`."""
        if ca not in self.files:
            return
        key = serial_digits(serial)
        path = self.export_path(ca)
        with self._locked(ca):
            old_at = self._offset(store.query, ca, key)
            fd = os.open(path, os.O_RDWR)
            try:
                writes: list[_Write] = []
                new_at: int | None = None
                line = index_line(current, now=now).encode() if current is not None else None
                old = _read_line(fd, old_at) if old_at is not None else b""
                if old_at is not None and _line_serial(old) != key:
                    old_at = None  # not (or no longer) there: nothing to comment out
                if old_at is not None and line == old:
                    return
                if old_at is not None and line is not None and len(line) == len(old):
                    writes.append(_Write(old_at, line))
                    new_at = old_at
                else:
                    if old_at is not None:
                        writes.append(_Write(old_at, _comment(len(old))))
                    if line is not None:
                        new_at = os.fstat(fd).st_size
                        writes.append(_Write(new_at, line))
                if not writes:
                    return
                self._apply(ca, fd, writes)
            finally:
                os.close(fd)
            self._commit_offset(store, ca, key, new_at, path)
            self._journal(ca).unlink(missing_ok=True)

    def _apply(self, ca: str, fd: int, writes: list[_Write]) -> None:
        body = json.dumps(
            [{"offset": w.offset, "data": w.data.hex()} for w in writes], separators=(",", ":")
        ).encode()
        _write_small(self._journal(ca), hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
        for write in writes:
            os.pwrite(fd, write.data, write.offset)
        os.fsync(fd)

    def _commit_offset(
        self, store: Any, ca: str, key: bytes, offset: int | None, path: Path
    ) -> None:
        with store.change() as cursor:
            self._set_offset(_on(cursor), ca, key, offset)
            cursor.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (f"export:{ca}", _stat_key(path)),
            )

    def _recover(self, cursor: sqlite3.Cursor, ca: str) -> None:
        """Replay a complete journal a crash left (its writes are idempotent); drop a torn one."""
        journal = self._journal(ca)
        try:
            data = journal.read_bytes()
        except FileNotFoundError:
            return
        digest, _, body = data.partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode() == digest:
            writes = [_Write(int(w["offset"]), bytes.fromhex(w["data"])) for w in json.loads(body)]
            fd = os.open(self.export_path(ca), os.O_RDWR)
            try:
                for write in writes:
                    os.pwrite(fd, write.data, write.offset)
                os.fsync(fd)
            finally:
                os.close(fd)
            for write in writes:
                serial = _line_serial(write.data)
                if serial is not None:
                    self._set_offset(_on(cursor), ca, serial, write.offset)
            cursor.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (f"export:{ca}", _stat_key(self.export_path(ca))),
            )
        journal.unlink()

    def sync(self, database: RecordReader, store: Any, now: dt.datetime) -> None:
        """Write back every record of the indexed CAs (a no-op for each one already there):
        a change committed just before a crash, whose write-back did not happen, is made."""
        for ca in self.files:
            for record in database.records(ca):
                self.write_back(ca, record.serial, record, store, now)


def _stat_key(path: Path) -> str:
    """Who wrote the export last, cheaply: inode, size and mtime (ns) after our own write."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def _comment(length: int) -> bytes:
    """A line OpenSSL skips (TXT_DB_read: ``#`` first), ``length`` bytes with its newline."""
    return b"#" + b" " * (length - 2) + b"\n" if length >= 2 else b"\n"


def _read_tail(fd: int, size: int) -> bytes:
    return os.pread(fd, 1, size - 1)


def _copy(source: Path, target: Path) -> None:
    """Byte for byte, in the kernel (copy_file_range): 100 MB never pass through Python."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        os.fchmod(dst.fileno(), 0o644)
        size = os.fstat(src.fileno()).st_size
        done = 0
        while done < size:
            try:
                sent = os.copy_file_range(src.fileno(), dst.fileno(), size - done)
            except OSError:  # another file system, or a kernel without it
                dst.write(src.read())
                break
            if sent == 0:
                break
            done += sent


def _write_small(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
