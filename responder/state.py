"""The responder's live state — database and faults — for one process.

Without a directory it lives in memory (scenario runs, tests): a
:class:`pki.CertificateDatabase` and a :class:`~responder.config.Faults`.
With one (``serve``) it lives in :mod:`responder.store`'s SQLite database,
shared by every gunicorn worker: a change is acknowledged only once it is
committed, and every request first takes in other workers' commits (one
``PRAGMA data_version``), so each worker answers from the committed state.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pki import CertificateDatabase, PKIError, Record
from pki.database import RecordReader
from responder.config import Faults
from responder.fault_table import faults_from_json, faults_to_json
from responder.index_state import IndexedDatabase, LiveIndex, MemoryIndex
from responder.store import STATE_DB, LiveDatabase, LiveStore, StateError, StorageError

__all__ = ["STATE_DB", "ResponderState", "StateError", "StorageError"]

_log = logging.getLogger("responder.admin")
FaultsListener = Callable[[Faults], None]
#: Called after a committed change of one CA's records, with the database and the CA's name.
RecordsListener = Callable[[RecordReader, str], None]


def _now() -> dt.datetime:
    # index.txt marks a certificate past notAfter E by the real clock, as openssl ca -updatedb
    return dt.datetime.now(dt.UTC)


class ResponderState:
    """The database and the faults, shared by every request of this process."""

    def __init__(
        self,
        database: CertificateDatabase,
        faults: Faults | None = None,
        *,
        directory: Path | None = None,
        identity: str = "",
        index: Mapping[str, Path] | None = None,
    ) -> None:
        self._faults = faults or Faults()
        self._faults_version = 0
        self._listeners: list[FaultsListener] = []
        self._record_listeners: list[RecordsListener] = []
        self.store: LiveStore | None = None
        self._live: LiveDatabase | None = None
        self.database: CertificateDatabase | LiveDatabase = database
        #: ``[responder] index`` in a serve directory (None: no index, or in memory).
        self.index: LiveIndex | None = None
        #: What answers read: the database, and behind it the index lines, if any.
        self.reader: RecordReader = database
        if directory is not None:
            if index:
                self.index = LiveIndex(index, Path(directory))
            self.store = LiveStore(
                Path(directory),
                identity=identity,
                base=database,
                faults_json=faults_to_json(self._faults),
                importers=((self.index.importer(_now),) if self.index is not None else ()),
            )
            self._live = LiveDatabase(
                self.store, fallback=self.index.lookup if self.index is not None else None
            )
            self.database = self.reader = self._live
            self._take_faults()
            if self.index is not None:
                self.index.attach(self.store.query)
                self.index.sync(self._live, self.store, _now())
        elif index:
            self.reader = IndexedDatabase(database, MemoryIndex(index))

    # ---- reading ----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Where the state is kept (only when a directory was given)."""
        if self.store is None:
            raise StateError("this responder state is kept in memory only")
        return self.store.path

    @property
    def faults(self) -> Faults:
        return self._faults

    def generation(self) -> Hashable:
        """Changes whenever an answer could change: a cache key for pre-signed answers."""
        return (self.database.version, self._faults_version)

    def refresh(self) -> None:
        """Take in what other workers committed (one ``PRAGMA data_version`` otherwise)."""
        if self.store is not None and self.store.refresh():
            self._take_faults()

    def _take_faults(self) -> None:
        assert self.store is not None
        faults = faults_from_json(self.store.faults_json)
        if faults != self._faults:
            self._announce(faults)

    def _announce(self, faults: Faults) -> None:
        self._faults = faults
        self._faults_version += 1
        for listener in list(self._listeners):
            listener(faults)

    # ---- changing (with a directory: committed before returning, or StorageError) -------

    def revoke(self, name: str, at: dt.datetime, reason: str | None = None) -> Record:
        """Revoke certificate ``name`` (``certificateHold`` puts it on hold)."""
        return self._change(lambda db: db.revoke(name, at, reason))

    def hold(self, name: str, at: dt.datetime) -> Record:
        """Put ``name`` on hold (revoked, reason certificateHold); a revoked one is refused."""
        return self._change(lambda db: db.hold(name, at))

    def release(self, name: str) -> Record:
        """Take ``name`` off hold: good again; a revoked one is refused."""
        return self._change(lambda db: db.release(name))

    def forget(self, name: str) -> Record:
        """Drop ``name``'s record: the responder answers as for a certificate never issued."""
        if self._live is not None:
            return self._changed(self._live.forget(name), gone=True)
        database = self._memory()

        def forget(db: CertificateDatabase) -> Record:
            record = db._require(name)
            db.forget(record.ca, record.serial)
            return record

        return self._changed(self._wrap(lambda: forget(database)), gone=True)

    def add_signed(self, record: Record, der: bytes, at: dt.datetime) -> Record:
        """File a certificate signed from a CSR (status good); a taken name is a StateError.

        With a directory the record and the DER are committed together
        (:meth:`LiveDatabase.add_signed`); in memory only the record is kept.
        """
        if self._live is not None:
            return self._changed(self._live.add_signed(record, der, at))
        database = self._memory()
        if record.name is not None and database.by_name(record.name) is not None:
            raise StateError(f"certificate name {record.name!r} is taken already")
        database.put(record)
        return self._changed(record)

    # ---- by serial: a lab certificate or an index line ([responder] index) --------------

    def revoke_serial(
        self, ca: str, serial: int, at: dt.datetime, reason: str | None = None
    ) -> Record:
        """Revoke ``ca``'s ``serial`` (``certificateHold`` puts it on hold)."""
        return self._change_serial(ca, serial, lambda db, name: db.revoke(name, at, reason))

    def hold_serial(self, ca: str, serial: int, at: dt.datetime) -> Record:
        return self._change_serial(ca, serial, lambda db, name: db.hold(name, at))

    def release_serial(self, ca: str, serial: int) -> Record:
        return self._change_serial(ca, serial, lambda db, name: db.release(name))

    def _change_serial(
        self, ca: str, serial: int, rule: Callable[[CertificateDatabase, str], Record]
    ) -> Record:
        if self._live is not None:
            return self._changed(self._live.change_serial(ca, serial, rule))
        record = self.reader.lookup(ca, serial)
        if record is None:
            raise StateError(f"serial {serial:X} of {ca!r} has no record in the database")
        handle = record.name or f"{ca}/{serial:X}"
        new = self._wrap(lambda: rule(CertificateDatabase([replace(record, name=handle)]), handle))
        new = replace(new, name=record.name)
        self._memory().put(new)
        return self._changed(new)

    def set_faults(self, faults: Faults) -> None:
        """Replace the active faults (``Faults()`` clears them)."""
        if self._live is not None:
            self._live.set_faults_json(faults_to_json(faults))
            self._take_faults()
            return
        self._announce(faults)

    def replace_database(self, database: CertificateDatabase) -> None:
        """Start again from ``database`` (the runner, between modes; in memory only)."""
        self._memory().replace_all(database)

    def on_faults(self, listener: FaultsListener) -> None:
        """Call ``listener`` after every change of the faults (the server watches ``down``)."""
        self._listeners.append(listener)

    def on_records(self, listener: RecordsListener) -> None:
        """Call ``listener`` after every committed status change (``serve`` rewrites index.txt)."""
        self._record_listeners.append(listener)

    def _changed(self, record: Record, *, gone: bool = False) -> Record:
        if self.index is not None and self.store is not None:
            # [responder] index: the exported index.txt says it too (responder.index_state)
            try:
                current = None if gone else self.database.lookup(record.ca, record.serial)
                self.index.write_back(record.ca, record.serial, current, self.store, _now())
            except (OSError, PKIError, StorageError) as exc:
                _log.warning(
                    "could not write %s back to %s.index.txt (%s)", record.serial, record.ca, exc
                )
        for listener in list(self._record_listeners):
            listener(self.database, record.ca)
        return record

    def _memory(self) -> CertificateDatabase:
        assert isinstance(self.database, CertificateDatabase)
        return self.database

    def _change(self, change: Callable[[Any], Record]) -> Record:
        if self._live is not None:
            # LiveDatabase raises StateError / StorageError itself
            return self._changed(change(self._live))
        database = self._memory()
        return self._changed(self._wrap(lambda: change(database)))

    @staticmethod
    def _wrap(change: Callable[[], Record]) -> Record:
        try:
            return change()
        except PKIError as exc:
            raise StateError(str(exc)) from None
