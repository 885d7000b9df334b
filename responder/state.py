"""The responder's live state — database and faults — and its persistence.

One object per process. Without a directory it lives in memory (scenario
runs, tests). With one (``serve``), every change is written to
``<dir>/state.json`` atomically (:func:`pki.database.atomic_write`: write,
fsync, rename), under an advisory lock so that two gunicorn workers never
lose each other's change; every request first compares the file's
(inode, mtime, size) with what it last loaded — one ``stat`` — and reloads
when another worker changed it. A restart loads the file: state survives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

from pki import CertificateDatabase, PKIError, Record
from pki.database import atomic_write
from responder.config import Faults
from responder.fault_table import faults_from_json, faults_to_json

__all__ = ["STATE_FILE", "ResponderState", "StateError"]

STATE_FILE = "state.json"
_LOCK_FILE = ".state.lock"
_FORMAT = "ocsp-lab responder state/1"

FaultsListener = Callable[[Faults], None]


class StateError(ValueError):
    """A change the state cannot make (unknown certificate, release of a revoked one …)."""


class ResponderState:
    """The database and the faults, shared by every request of this process."""

    def __init__(
        self,
        database: CertificateDatabase,
        faults: Faults | None = None,
        *,
        directory: Path | None = None,
    ) -> None:
        self.database = database
        self._faults = faults or Faults()
        self._faults_version = 0
        self._directory = Path(directory) if directory is not None else None
        # stat()ed on every request: the string, not a Path built anew each time
        self._state_file = str(self._directory / STATE_FILE) if self._directory else None
        self._signature: tuple[int, int, int] | None = None
        self._lock = threading.RLock()
        self._listeners: list[FaultsListener] = []
        if self._directory is not None:
            if self.path.exists():
                self._load()
            else:
                self._save()

    # ---- reading ----------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Where the state is persisted (only when a directory was given)."""
        if self._state_file is None:
            raise StateError("this responder state is kept in memory only")
        return Path(self._state_file)

    @property
    def faults(self) -> Faults:
        return self._faults

    def generation(self) -> Hashable:
        """Changes whenever an answer could change: a cache key for pre-signed answers."""
        return (self.database.version, self._faults_version)

    def refresh(self) -> None:
        """Reload if another process changed the state file (one ``stat`` otherwise)."""
        if self._state_file is None:
            return
        try:
            signature = _file_signature(self._state_file)
        except FileNotFoundError:
            return
        if signature != self._signature:
            with self._lock:
                self._load()

    # ---- changing ---------------------------------------------------------------------

    def revoke(self, name: str, at: dt.datetime, reason: str | None = None) -> Record:
        """Revoke certificate ``name`` (``certificateHold`` puts it on hold)."""
        with self._change():
            return self._wrap(lambda: self.database.revoke(name, at, reason))

    def hold(self, name: str, at: dt.datetime) -> Record:
        """Put ``name`` on hold (revoked, reason certificateHold)."""
        with self._change():
            return self._wrap(lambda: self.database.hold(name, at))

    def release(self, name: str) -> Record:
        """Take ``name`` off hold: good again."""
        with self._change():
            return self._wrap(lambda: self.database.release(name))

    def forget(self, name: str) -> Record:
        """Drop ``name``'s record: the responder answers as for a certificate never issued."""
        with self._change():
            record = self._wrap(lambda: self.database._require(name))
            self.database.forget(record.ca, record.serial)
            return record

    def set_faults(self, faults: Faults) -> None:
        """Replace the active faults (``Faults()`` clears them)."""
        with self._change():
            self._faults = faults
            self._faults_version += 1
        for listener in list(self._listeners):
            listener(faults)

    def on_faults(self, listener: FaultsListener) -> None:
        """Call ``listener`` after every change of the faults (the server watches ``down``)."""
        self._listeners.append(listener)

    # ---- persistence ------------------------------------------------------------------

    @staticmethod
    def _wrap(change: Callable[[], Record]) -> Record:
        try:
            return change()
        except PKIError as exc:
            raise StateError(str(exc)) from None

    @contextlib.contextmanager
    def _change(self) -> Iterator[None]:
        with self._lock:
            if self._directory is None:
                yield
                return
            lock_path = self._directory / _LOCK_FILE
            with open(lock_path, "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # across workers: read, change, write
                try:
                    self.refresh()
                    yield
                    self._save()
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)

    def _document(self) -> dict[str, Any]:
        # Faults as a scenario file writes them (durations "1d", offsets "-1h"): the
        # one table and grammar of responder.fault_table, read back the same way.
        return {
            "format": _FORMAT,
            "faults": faults_to_json(self._faults),
            "database": json.loads(self.database.to_json()),
        }

    def _save(self) -> None:
        data = json.dumps(self._document(), indent=1).encode() + b"\n"
        atomic_write(self.path, data, mode=0o600)
        self._signature = _file_signature(self.path)

    def _load(self) -> None:
        path = self.path
        signature = _file_signature(path)
        try:
            doc = json.loads(path.read_bytes())
            if doc.get("format") != _FORMAT:
                raise StateError(f"{path}: not an ocsp-lab responder state ({_FORMAT!r})")
            database = CertificateDatabase.from_json(
                json.dumps(doc["database"]).encode(), source=str(path)
            )
            faults = faults_from_json(doc.get("faults") or {})
        except (ValueError, KeyError, TypeError, AttributeError, PKIError) as exc:
            if isinstance(exc, StateError):
                raise
            raise StateError(f"{path}: unreadable responder state ({exc})") from None
        self.database.replace_all(database)
        if faults != self._faults:
            self._faults = faults
            self._faults_version += 1
            for listener in list(self._listeners):
                listener(faults)
        self._signature = signature


def _file_signature(path: Path | str) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
