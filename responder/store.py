"""Live state in one SQLite database, shared by every worker process (DESIGN.md, "Live state").

What changes while the lab serves — the certificates' statuses, the faults,
the request log — lives in ``<serve dir>/state.sqlite3``:

- **WAL mode, ``synchronous = FULL``**: a change is acknowledged only once its
  transaction is committed and on disk; a commit that fails (disk full, I/O
  error) raises :class:`StorageError` and changes nothing, in any worker.
- **Every worker answers from the committed state.** Each request asks
  SQLite's ``PRAGMA data_version`` (a counter that moves when *another*
  connection commits: no file read); when it moved, the worker forgets what
  it had looked up and re-reads the version and the faults. Lookups are
  indexed (``(ca, serial)`` is the primary key), so a million certificates
  cost what ten do.
- **One request log for all workers**: each process queues its entries and a
  background thread inserts them in batches on its own connection (the log
  is a view for people, not an acknowledged change, so it is written with
  ``synchronous = OFF`` and trimmed to the newest :data:`REQUEST_LOG_ROWS`).
- **The state belongs to the scenario it was made for**: ``identity`` (a
  digest of the served PKI, database and faults) is stored; opening the file
  with another identity starts fresh and says so (:attr:`LiveStore.discarded`).

Connections are opened per process (``serve`` loads the app before
gunicorn forks: a SQLite connection must not cross a fork).
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pki import CertificateDatabase, PKIError, Record
from pki.spec import RecordStatus

__all__ = [
    "CONNECTION_LOG_ROWS",
    "REQUEST_LOG_ROWS",
    "STATE_DB",
    "ConnectionLog",
    "LiveDatabase",
    "LiveStore",
    "StateError",
    "StorageError",
    "TimelineBoard",
]

STATE_DB = "state.sqlite3"
_FORMAT = "ocsp-lab live state/2"
#: The newest request-log rows kept (the status page shows the last 200).
REQUEST_LOG_ROWS = 2000
#: The newest TLS-connection rows kept (``serve --tls``; the status page shows the last 30).
CONNECTION_LOG_ROWS = 500
#: At most this many queued entries are written per flush; under load the
#: oldest of a burst are left out of the shared view (each still has its log line).
_FLUSH_BATCH = 500
_FLUSH_INTERVAL = 0.05  # seconds: a request reaches every worker's page within ~50 ms
_BUSY_TIMEOUT_MS = 5000  # another worker's commit is a few ms; a bounded wait

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    ca TEXT NOT NULL,
    serial TEXT NOT NULL,            -- 40 hex digits, zero-padded: sorts as the number does
    name TEXT,
    status TEXT NOT NULL,
    not_after TEXT NOT NULL,
    subject TEXT NOT NULL,
    revoked_at TEXT,
    reason TEXT,
    PRIMARY KEY (ca, serial)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_name ON records (name) WHERE name IS NOT NULL;
CREATE TABLE IF NOT EXISTS signed (  -- certificates signed from a CSR (pki sign, POST /sign)
    ca TEXT NOT NULL,
    serial TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    der BLOB NOT NULL,
    signed_at TEXT NOT NULL,
    PRIMARY KEY (ca, serial)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_lines (  -- [responder] index (responder.index_state)
    ca TEXT NOT NULL,
    serial BLOB NOT NULL,            -- upper-case hex, no leading zeros (pki.openssl_index)
    offset INTEGER NOT NULL,         -- where its line is in <serve dir>/<ca>.index.txt
    PRIMARY KEY (ca, serial)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_small (  -- the same, for serials of up to 56 bits
    key INTEGER PRIMARY KEY,         -- (rank of the CA << 56) | serial
    offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    entry TEXT NOT NULL              -- the entry's JSON (RequestLogEntry.to_json)
);
CREATE TABLE IF NOT EXISTS connections (  -- serve --tls: one row per TLS connection (ConnectionLog)
    id INTEGER PRIMARY KEY,
    entry TEXT NOT NULL              -- a JSON object: what the endpoint saw, in words too
);
CREATE TABLE IF NOT EXISTS timeline (  -- serve SCENARIO's [[step]]s, real clock (TimelineBoard)
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row: the plan and its progress
    revision INTEGER NOT NULL,       -- moves with every write: what a page compares to see news
    plan TEXT NOT NULL               -- a JSON object: started, and each step's due time and state
);
"""


#: Called in the opening transaction with its cursor and whether the state starts fresh
#: (an OpenSSL index imported in bulk: responder.index_state).
Importer = Callable[[sqlite3.Cursor, bool], None]


class StateError(ValueError):
    """A change the state cannot make (unknown certificate, release of a revoked one …)."""


class StorageError(RuntimeError):
    """The change could not be committed (disk full, I/O error): nothing was changed."""


def _serial_key(serial: int) -> str:
    return format(serial, "040X")


def _row(record: Record) -> tuple[Any, ...]:
    return (
        record.ca,
        _serial_key(record.serial),
        record.name,
        record.status.value,
        record.not_after.isoformat(),
        record.subject,
        record.revoked_at.isoformat() if record.revoked_at else None,
        record.reason,
    )


_COLUMNS = "ca, serial, name, status, not_after, subject, revoked_at, reason"


def _record(row: tuple[Any, ...]) -> Record:
    ca, serial, name, status, not_after, subject, revoked_at, reason = row
    return Record(
        ca=ca,
        serial=int(serial, 16),
        status=RecordStatus(status),
        not_after=dt.datetime.fromisoformat(not_after),
        subject=subject,
        revoked_at=dt.datetime.fromisoformat(revoked_at) if revoked_at else None,
        reason=reason,
        name=name,
    )


def _check_path(path: Path) -> None:
    """The database must be a regular file of ours, or absent (never follow a symlink)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise StateError(
            f"{path}: {kind}; expected the lab's live-state database "
            "(remove it, or start with --fresh)"
        )


def remove_state(directory: Path) -> None:
    """Forget the live state kept in ``directory`` (``serve --fresh``)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        target = directory / (STATE_DB + suffix)
        _check_path(target)
        target.unlink(missing_ok=True)


class _Connections:
    """One SQLite connection per process and purpose, opened on first use after a fork."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid = -1
        self._main: sqlite3.Connection | None = None
        self._log: sqlite3.Connection | None = None
        self.lock = threading.RLock()  # sqlite3 connections are not for concurrent use

    def _open(self, synchronous: str) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE … COMMIT
            check_same_thread=False,
        )
        connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        return connection

    def _forked(self) -> None:
        if self._pid != os.getpid():
            # Connections made before a fork belong to the parent: drop, never close, them.
            self._main = self._log = None
            self._pid = os.getpid()

    @property
    def main(self) -> sqlite3.Connection:
        self._forked()
        if self._main is None:
            self._main = self._open("FULL")  # acknowledged means on disk
        return self._main

    @property
    def log(self) -> sqlite3.Connection:
        self._forked()
        if self._log is None:
            self._log = self._open("OFF")  # a view for people: no fsync per batch
        return self._log

    @contextlib.contextmanager
    def log_write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write on the :attr:`log` connection (BEGIN IMMEDIATE … COMMIT).

        Any SQLite failure rolls back and is a :class:`StorageError` saying ``what``
        could not be stored, naming the file.
        """
        with self.lock:
            try:
                db = self.log
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                except sqlite3.Error:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: {what} could not be stored ({exc})") from None

    def close(self) -> None:
        with self.lock:
            if self._pid == os.getpid():
                for connection in (self._main, self._log):
                    if connection is not None:
                        connection.close()
            self._main = self._log = None


class LiveStore:
    """The live-state database of a ``serve`` directory."""

    def __init__(
        self,
        directory: Path,
        *,
        identity: str,
        base: CertificateDatabase,
        faults_json: dict[str, Any],
        importers: Sequence[Importer] = (),
    ) -> None:
        self.path = Path(directory) / STATE_DB
        _check_path(self.path)
        self._db = _Connections(self.path)
        #: Why earlier state was not kept (None: kept, or there was none).
        self.discarded: str | None = None
        #: True when state from an earlier run of this same scenario was found.
        self.kept = False
        self._data_version = -1
        self._version = 0
        self._faults_json: dict[str, Any] = faults_json
        #: The TLS-connection log, read by the status page of every worker.
        self.connections = ConnectionLog(self.path)
        #: The served timeline's plan and progress, read by the status page of every worker.
        self.timeline = TimelineBoard(self.path)
        self._importers = tuple(importers)
        try:
            self._open(identity, base, faults_json)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StateError(
                f"{self.path}: unreadable live-state database ({exc}); "
                "start fresh with --fresh (or remove the file)"
            ) from None
        os.chmod(self.path, 0o600)

    # ---- opening ------------------------------------------------------------------------

    def _open(self, identity: str, base: CertificateDatabase, faults_json: dict[str, Any]) -> None:
        with self._transaction() as cursor:
            # executescript() would COMMIT first: run the statements one by one instead
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            meta = dict(cursor.execute("SELECT key, value FROM meta").fetchall())
            if meta and meta.get("format") != _FORMAT:
                raise StateError(
                    f"{self.path}: not an ocsp-lab live-state database (format "
                    f"{meta.get('format')!r}, expected {_FORMAT!r}); start fresh with --fresh"
                )
            # A timeline's plan belongs to the serve that runs it, never to the next one.
            cursor.execute("DELETE FROM timeline")
            if meta.get("identity") == identity:
                self.kept = True
            else:
                if meta:
                    self.discarded = (
                        "the state was made for another scenario (or an edited one): started fresh"
                    )
                cursor.execute("DELETE FROM records")
                cursor.execute("DELETE FROM signed")
                cursor.execute("DELETE FROM requests")
                cursor.execute("DELETE FROM connections")
                cursor.execute("DELETE FROM index_lines")
                cursor.execute("DELETE FROM index_small")
                cursor.executemany(
                    f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (_row(r) for r in base.records()),
                )
                version = int(meta.get("version", "0")) + 1
                cursor.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("format", _FORMAT),
                        ("identity", identity),
                        ("version", str(version)),
                        ("faults", json.dumps(faults_json, sort_keys=True)),
                    ],
                )
            for importer in self._importers:
                # In the same transaction: a failed import leaves no half of itself.
                importer(cursor, not self.kept)
        self.refresh(force=True)

    # ---- transactions -------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE … COMMIT; any failure rolls back and changes nothing."""
        with self._db.lock:
            db = self._db.main
            cursor = db.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the write lock, across workers, first
            try:
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()

    @contextlib.contextmanager
    def change(self) -> Iterator[sqlite3.Cursor]:
        """One acknowledged change: committed on disk when the block ends, or StorageError."""
        try:
            with self._transaction() as cursor:
                yield cursor
                cursor.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: the change could not be stored ({exc})") from None
        self.refresh(force=True)

    # ---- reading ------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> bool:
        """Take in other workers' commits; True if anything changed since the last call."""
        try:
            with self._db.lock:
                db = self._db.main
                data_version = db.execute("PRAGMA data_version").fetchone()[0]
                if data_version == self._data_version and not force:
                    return False
                meta = dict(
                    db.execute("SELECT key, value FROM meta WHERE key IN ('version', 'faults')")
                )
                self._data_version = data_version
            version = int(meta["version"])
        except (sqlite3.Error, KeyError, ValueError) as exc:
            self._data_version = -1  # read again next time
            raise StorageError(f"{self.path}: the live state cannot be read ({exc})") from None
        if version == self._version:
            return False
        self._version = version
        self._faults_json = json.loads(meta["faults"])
        return True

    @property
    def version(self) -> int:
        """Bumped by every committed change, in any worker."""
        return self._version

    @property
    def faults_json(self) -> dict[str, Any]:
        return self._faults_json

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._db.lock:
            return self._db.main.execute(sql, tuple(args)).fetchall()

    # ---- the request log ----------------------------------------------------------------

    def append_requests(self, entries: list[dict[str, Any]]) -> None:
        """Insert request-log entries (JSON-ready) and trim to the newest rows."""
        if not entries:
            return
        with self._db.lock:
            db = self._db.log
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT INTO requests (entry) VALUES (?)",
                    ((json.dumps(e, separators=(",", ":")),) for e in entries),
                )
                db.execute(
                    "DELETE FROM requests WHERE id <= (SELECT MAX(id) FROM requests) - ?",
                    (REQUEST_LOG_ROWS,),
                )
                db.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                # The log is a view: a full disk must not stop answering OCSP.

    def recent_requests(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries of every worker, oldest first."""
        with self._db.lock:
            rows = self._db.log.execute(
                "SELECT entry FROM requests ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(row[0]) for row in reversed(rows)]

    def requests_after(self, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The entries with an id above ``after`` (at most the newest ``limit``), oldest first."""
        with self._db.lock:
            rows = self._db.log.execute(
                "SELECT id, entry FROM requests WHERE id > ? ORDER BY id DESC LIMIT ?",
                (after, limit),
            ).fetchall()
        return [(int(row[0]), json.loads(row[1])) for row in reversed(rows)]

    def close(self) -> None:
        self._db.close()
        self.connections.close()
        self.timeline.close()


class ConnectionLog:
    """The TLS connections ``serve --tls`` saw, one JSON object a row, in the live-state file.

    The endpoint runs in gunicorn's master process and each worker's status
    page reads the rows, as the request log is shared. An entry is plain JSON
    (the responder never imports the lab): whatever the writer put in it, the
    page shows. Each :meth:`add` is committed before it returns, so every
    worker's next look sees it; like the request log it is a view for people
    (``synchronous = OFF``: no fsync per connection) and keeps the newest
    :data:`CONNECTION_LOG_ROWS`.

    Its own connections and lock: the master's endpoint threads write through
    an object of their own, so a worker forked while one of them holds a lock
    never inherits that lock in an object it uses.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = _Connections(self.path)

    def add(self, entry: dict[str, Any]) -> int:
        """Store one connection's entry (JSON-ready); its id (ids only grow)."""
        with self._db.log_write("the TLS connection") as db:
            cursor = db.execute(
                "INSERT INTO connections (entry) VALUES (?)",
                (json.dumps(entry, separators=(",", ":")),),
            )
            row_id = int(cursor.lastrowid or 0)
            db.execute("DELETE FROM connections WHERE id <= ?", (row_id - CONNECTION_LOG_ROWS,))
        return row_id

    def newest_id(self) -> int:
        """The id of the newest row (0: none yet): what a page compares to see news."""
        with self._db.lock:
            row = self._db.log.execute("SELECT MAX(id) FROM connections").fetchone()
        return int(row[0] or 0)

    def recent(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The newest ``limit`` entries with their ids, oldest first."""
        with self._db.lock:
            rows = self._db.log.execute(
                "SELECT id, entry FROM connections ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [(int(row[0]), json.loads(row[1])) for row in reversed(rows)]

    def close(self) -> None:
        self._db.close()


class TimelineBoard:
    """The plan of ``serve SCENARIO``'s timeline and how far it got, one row in the live state.

    ``serve``'s timeline runs in gunicorn's master process and rewrites the
    whole plan (plain JSON: the responder never imports the lab) when it
    starts and after every step; each worker's status page reads it, as it
    reads the :class:`ConnectionLog`. A plan is a handful of steps, so one
    row rewritten is simpler than rows updated one by one, and a reader never
    sees half a step's progress. ``synchronous = OFF``: a view for people;
    the changes a step makes are committed on their own, with ``FULL``.
    Its own connections and lock, for the same reason as the connection log's.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = _Connections(self.path)

    def write(self, plan: dict[str, Any]) -> int:
        """Store ``plan`` (JSON-ready) in place of the last one; its revision (only grows)."""
        with self._db.log_write("the timeline's progress") as db:
            row = db.execute("SELECT revision FROM timeline WHERE id = 1").fetchone()
            revision = (int(row[0]) if row else 0) + 1
            db.execute(
                "INSERT OR REPLACE INTO timeline (id, revision, plan) VALUES (1, ?, ?)",
                (revision, json.dumps(plan, separators=(",", ":"))),
            )
        return revision

    def revision(self) -> int:
        """The newest plan's revision (0: no timeline is served)."""
        with self._db.lock:
            row = self._db.log.execute("SELECT revision FROM timeline WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def read(self) -> dict[str, Any] | None:
        """The newest plan (None: no timeline is served)."""
        with self._db.lock:
            row = self._db.log.execute("SELECT plan FROM timeline WHERE id = 1").fetchone()
        if row is None:
            return None
        plan: dict[str, Any] = json.loads(row[0])
        return plan

    def close(self) -> None:
        self._db.close()


class LiveDatabase:
    """The certificate database, read from and changed in a :class:`LiveStore`.

    The same reading interface as :class:`pki.CertificateDatabase` (lookup,
    records, by_name, version), so the responder answers from it unchanged.
    Lookups are remembered until another commit moves the version.
    """

    def __init__(
        self, store: LiveStore, fallback: Callable[[str, int], Record | None] | None = None
    ) -> None:
        self._store = store
        #: What answers a serial the records table does not have ([responder] index).
        self.fallback = fallback
        self._seen_version = -1
        self._lookups: dict[tuple[str, int], Record | None] = {}

    @property
    def version(self) -> int:
        return self._store.version

    def _memo(self) -> dict[tuple[str, int], Record | None]:
        if self._seen_version != self._store.version:
            self._lookups = {}
            self._seen_version = self._store.version
        return self._lookups

    def lookup(self, ca: str, serial: int) -> Record | None:
        memo = self._memo()
        key = (ca, serial)
        try:
            return memo[key]
        except KeyError:
            pass
        rows = self._store.query(
            f"SELECT {_COLUMNS} FROM records WHERE ca = ? AND serial = ?",
            (ca, _serial_key(serial)),
        )
        record = _record(rows[0]) if rows else None
        if record is None and self.fallback is not None:
            record = self.fallback(ca, serial)
        if len(memo) >= 65536:
            memo.clear()  # bounded: a scan of many serials must not grow without end
        memo[key] = record
        return record

    def records(self, ca: str | None = None) -> list[Record]:
        """All records (of one CA), in serial order."""
        if ca is None:
            rows = self._store.query(f"SELECT {_COLUMNS} FROM records ORDER BY ca, serial")
        else:
            rows = self._store.query(
                f"SELECT {_COLUMNS} FROM records WHERE ca = ? ORDER BY serial", (ca,)
            )
        return [_record(r) for r in rows]

    def by_name(self, name: str) -> Record | None:
        rows = self._store.query(f"SELECT {_COLUMNS} FROM records WHERE name = ?", (name,))
        return _record(rows[0]) if rows else None

    def __len__(self) -> int:
        return int(self._store.query("SELECT COUNT(*) FROM records")[0][0])

    # ---- changing (each one committed before it returns) --------------------------------

    def _update(self, name: str, change: Callable[[Record], Record | None]) -> Record:
        """Read ``name``'s record inside the write transaction, change it, commit."""
        with self._store.change() as cursor:
            rows = cursor.execute(
                f"SELECT {_COLUMNS} FROM records WHERE name = ?", (name,)
            ).fetchall()
            if not rows:
                raise StateError(f"certificate {name!r} has no record in the database")
            record = _record(rows[0])
            new = change(record)
            if new is None:
                cursor.execute(
                    "DELETE FROM records WHERE ca = ? AND serial = ?",
                    (record.ca, _serial_key(record.serial)),
                )
                return record
            cursor.execute(
                f"INSERT OR REPLACE INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _row(new),
            )
            return new

    def change_serial(
        self, ca: str, serial: int, rule: Callable[[CertificateDatabase, str], Record]
    ) -> Record:
        """Change the record of ``ca``'s ``serial`` — a lab one, or an index line's — by
        :class:`pki.CertificateDatabase`'s rule (given the database and a name for the
        record), committed as a records row that wins over the index from then on."""
        with self._store.change() as cursor:
            rows = cursor.execute(
                f"SELECT {_COLUMNS} FROM records WHERE ca = ? AND serial = ?",
                (ca, _serial_key(serial)),
            ).fetchall()
            record = _record(rows[0]) if rows else None
            if record is None and self.fallback is not None:
                record = self.fallback(ca, serial)
            if record is None:
                raise StateError(f"serial {serial:X} of {ca!r} has no record in the database")
            handle = record.name or f"{ca}/{serial:X}"
            try:
                new = rule(CertificateDatabase([replace(record, name=handle)]), handle)
            except PKIError as exc:
                raise StateError(str(exc)) from None
            new = replace(new, name=record.name)
            cursor.execute(
                f"INSERT OR REPLACE INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                _row(new),
            )
        return new

    def _apply(self, name: str, rule: Callable[[CertificateDatabase], Record]) -> Record:
        """Change ``name`` by :class:`pki.CertificateDatabase`'s own rule, then commit."""

        def changed(record: Record) -> Record:
            try:  # one set of rules: revoke / hold / release as the in-memory database has them
                return rule(CertificateDatabase([record]))
            except PKIError as exc:
                raise StateError(str(exc)) from None

        return self._update(name, changed)

    def revoke(self, name: str, at: dt.datetime, reason: str | None = None) -> Record:
        """Revoke ``name`` (``certificateHold`` puts it on hold instead)."""
        return self._apply(name, lambda db: db.revoke(name, at, reason))

    def hold(self, name: str, at: dt.datetime) -> Record:
        return self._apply(name, lambda db: db.hold(name, at))

    def release(self, name: str) -> Record:
        return self._apply(name, lambda db: db.release(name))

    def forget(self, name: str) -> Record:
        """Drop ``name``'s record: answered as a certificate never issued."""
        return self._update(name, lambda record: None)

    def add_signed(self, record: Record, der: bytes, at: dt.datetime) -> Record:
        """File a certificate signed from a CSR: its record (good) and its DER, in one commit.

        ``record.name`` names it for the admin API (revoke, hold …); a name or a
        serial the database has already is a :class:`StateError`, nothing changed.
        """
        if record.name is None:
            raise StateError("a signed certificate needs a name")
        with self._store.change() as cursor:
            taken = cursor.execute(
                "SELECT name FROM records WHERE name = ? OR (ca = ? AND serial = ?)",
                (record.name, record.ca, _serial_key(record.serial)),
            ).fetchall()
            if taken:
                raise StateError(
                    f"certificate name {record.name!r} (or serial {record.serial:X} of "
                    f"{record.ca!r}) is taken already: expected a new one"
                )
            cursor.execute(
                f"INSERT INTO records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _row(record)
            )
            cursor.execute(
                "INSERT INTO signed (ca, serial, name, der, signed_at) VALUES (?, ?, ?, ?, ?)",
                (record.ca, _serial_key(record.serial), record.name, der, at.isoformat()),
            )
        return record

    def signed(self) -> list[tuple[str, bytes]]:
        """The certificates signed from CSRs: (name, DER), oldest first."""
        rows = self._store.query("SELECT name, der FROM signed ORDER BY signed_at, name")
        return [(str(name), bytes(der)) for name, der in rows]

    def set_faults_json(self, faults_json: dict[str, Any]) -> None:
        with self._store.change() as cursor:
            cursor.execute(
                "UPDATE meta SET value = ? WHERE key = 'faults'",
                (json.dumps(faults_json, sort_keys=True),),
            )


class RequestQueue:
    """This process's request-log entries on their way to the shared table."""

    def __init__(self, store: LiveStore) -> None:
        self._store = store
        self._pending: collections.deque[Callable[[], dict[str, Any]]] = collections.deque(
            maxlen=_FLUSH_BATCH
        )
        self._wake = threading.Event()
        self._pid = -1
        self._thread: threading.Thread | None = None

    def put(self, make: Callable[[], dict[str, Any]]) -> None:
        self._pending.append(make)  # deque.append is atomic; the oldest of a burst fall out
        if self._pid != os.getpid():
            self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
        self._thread.start()

    def flush(self) -> None:
        batch: list[dict[str, Any]] = []
        while True:
            try:
                batch.append(self._pending.popleft()())
            except IndexError:
                break
        self._store.append_requests(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait(_FLUSH_INTERVAL)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                continue
