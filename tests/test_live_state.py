"""Live state in SQLite (responder/store.py): committed before acknowledged, one view for all."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from flask import Flask

from pki import EPOCH, PKI, build_pki
from pki.openssl_index import write_index
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.config import Faults, ResponderConfig
from responder.state import STATE_DB, StateError, StorageError
from responder.testing import demo_spec, ocsp_request, parse_response

NOW = EPOCH + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _worker(pki: PKI, directory: Path, **kwargs: object) -> Flask:
    """One gunicorn worker's app, as ``serve`` builds it: same PKI, same directory."""
    return create_app(pki, state_dir=directory, clock=FixedClock(NOW), **kwargs)  # type: ignore[arg-type]


def _status(app: Flask, pki: PKI, name: str) -> str:
    answer = parse_response(app.test_client().post("/", data=ocsp_request(pki, [name])).data)
    return answer.singles[0].status if answer.singles else answer.status


def test_change_is_answered_by_every_worker_at_the_next_request(pki: PKI, tmp_path: Path) -> None:
    first, second = _worker(pki, tmp_path), _worker(pki, tmp_path)
    assert _status(second, pki, "server") == "good"
    reply = first.test_client().post(f"{ADMIN_PREFIX}/revoke", json={"name": "server"})
    assert reply.status_code == 200
    assert _status(second, pki, "server") == "revoked"  # no reload, no wait
    assert _status(first, pki, "server") == "revoked"


def test_faults_change_reaches_every_worker(pki: PKI, tmp_path: Path) -> None:
    first, second = _worker(pki, tmp_path), _worker(pki, tmp_path)
    nonce = b"n" * 16
    der = ocsp_request(pki, ["server"], nonce=nonce)
    assert parse_response(second.test_client().post("/", data=der).data).nonce == nonce
    assert (
        first.test_client().put(f"{ADMIN_PREFIX}/faults", json={"nonce": "omit"}).status_code == 200
    )
    assert parse_response(second.test_client().post("/", data=der).data).nonce is None


def test_request_log_is_one_for_all_workers(pki: PKI, tmp_path: Path) -> None:
    first, second = _worker(pki, tmp_path), _worker(pki, tmp_path)
    _status(first, pki, "server")
    _status(second, pki, "revoked-leaf")
    lab_responder(first).requests.entries()  # flushes first's queue (as the thread would)
    seen = [e.names for e in lab_responder(second).requests.entries()]
    assert ("server",) in seen and ("revoked-leaf",) in seen


def test_failed_commit_is_an_error_and_changes_nothing(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _worker(pki, tmp_path), _worker(pki, tmp_path)
    store = lab_responder(first).state.store
    assert store is not None
    real = store._transaction

    def failing_commit():  # type: ignore[no-untyped-def]
        # As SQLite says it on a full disk: the COMMIT fails, the transaction rolls back.
        with real() as cursor:
            yield cursor
            raise sqlite3.OperationalError("database or disk is full")

    import contextlib

    monkeypatch.setattr(store, "_transaction", contextlib.contextmanager(failing_commit))
    reply = first.test_client().post(f"{ADMIN_PREFIX}/revoke", json={"name": "server"})
    assert reply.status_code == 507
    assert reply.is_json and "could not be stored" in reply.get_json()["error"]
    assert _status(first, pki, "server") == "good"  # not in the worker that took it
    assert _status(second, pki, "server") == "good"  # nor in any other
    monkeypatch.undo()
    assert _status(_worker(pki, tmp_path), pki, "server") == "good"  # nor after a restart


def test_state_survives_a_restart_for_the_same_scenario(pki: PKI, tmp_path: Path) -> None:
    lab_responder(_worker(pki, tmp_path)).state.revoke("server", NOW, "superseded")
    again = _worker(pki, tmp_path)
    assert lab_responder(again).state.store.kept  # type: ignore[union-attr]
    assert _status(again, pki, "server") == "revoked"


def test_state_of_another_scenario_is_not_carried_over(pki: PKI, tmp_path: Path) -> None:
    state = lab_responder(_worker(pki, tmp_path)).state
    state.forget("server")
    other = _worker(pki, tmp_path, config=ResponderConfig(next_update=dt.timedelta(hours=2)))
    store = lab_responder(other).state.store
    assert store is not None and not store.kept
    assert store.discarded and "another scenario" in store.discarded
    assert _status(other, pki, "server") == "good"  # forgotten under the old one only


def test_hold_on_a_revoked_certificate_is_refused(pki: PKI, tmp_path: Path) -> None:
    client = _worker(pki, tmp_path).test_client()
    reply = client.post(f"{ADMIN_PREFIX}/hold", json={"name": "revoked-leaf"})
    assert reply.status_code == 409
    assert "cannot be put on hold" in reply.get_json()["error"]
    assert _status(_worker(pki, tmp_path), pki, "revoked-leaf") == "revoked"


def test_hold_on_a_revoked_certificate_is_refused_in_memory_too(pki: PKI) -> None:
    state = lab_responder(create_app(pki, clock=FixedClock(NOW))).state
    with pytest.raises(StateError, match="cannot be put on hold"):
        state.hold("revoked-leaf", NOW)


@pytest.mark.parametrize(
    "garbage", [b"not a database at all" * 10, b"SQLite format 3\0" + b"\xff" * 200]
)
def test_unreadable_database_at_start_names_the_file_and_the_way_out(
    pki: PKI, tmp_path: Path, garbage: bytes
) -> None:
    (tmp_path / STATE_DB).write_bytes(garbage)
    with pytest.raises(StateError) as caught:
        _worker(pki, tmp_path)
    message = str(caught.value)
    assert str(tmp_path / STATE_DB) in message and "--fresh" in message


@pytest.mark.parametrize("kind", ["directory", "fifo", "symlink"])
def test_state_path_that_is_not_a_regular_file_is_refused(
    pki: PKI, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / STATE_DB
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "elsewhere").write_bytes(b"")
        target.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(StateError, match="expected the lab's live-state database"):
        _worker(pki, tmp_path)


def test_database_is_private_and_leaves_no_temporary_files(pki: PKI, tmp_path: Path) -> None:
    state = lab_responder(_worker(pki, tmp_path)).state
    state.revoke("server", NOW)
    assert (tmp_path / STATE_DB).stat().st_mode & 0o777 == 0o600
    names = {p.name for p in tmp_path.iterdir()}
    assert names <= {STATE_DB, STATE_DB + "-wal", STATE_DB + "-shm"}


def test_unexpected_admin_error_is_json_not_an_ocsp_body(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _worker(pki, tmp_path)
    state = lab_responder(app).state

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(state, "set_faults", broken)
    reply = app.test_client().put(f"{ADMIN_PREFIX}/faults", json={"nonce": "omit"})
    assert reply.status_code == 500 and reply.is_json
    assert "internal error" in reply.get_json()["error"]


def test_storage_error_when_the_state_becomes_unreadable(pki: PKI, tmp_path: Path) -> None:
    state = lab_responder(_worker(pki, tmp_path)).state
    with sqlite3.connect(tmp_path / STATE_DB) as other:
        other.execute("DROP TABLE meta")
    with pytest.raises(StorageError):
        state.refresh()


def test_exported_index_follows_live_changes_as_openssl_reads_it(pki: PKI, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    state = lab_responder(_worker(pki, tmp_path / "state")).state
    state.on_records(lambda db, ca: write_index(db, ca, tmp_path, now=NOW))
    state.revoke("server", NOW, "keyCompromise")
    server = pki["server"]
    line = next(
        line
        for line in (tmp_path / f"{server.issuer}.index.txt").read_text().splitlines()
        if int(line.split("\t")[3], 16) == server.serial
    )
    # What `openssl ocsp -index` reads: R, then the revocation time and reason.
    assert line.startswith("R\t") and line.split("\t")[2].endswith(",keyCompromise")
    _openssl_index_agrees(pki, tmp_path, "server", "revoked")


def _openssl_index_agrees(pki: PKI, directory: Path, name: str, expected: str) -> None:
    """`openssl ocsp -index` (as a responder, -reqin/-respout) answers ``expected``."""
    cert = pki[name]
    issuer = pki[cert.issuer or name]
    signer = pki["responder"]
    files = {}
    for label, issued in (("ca", issuer), ("cert", cert), ("signer", signer)):
        files[label] = directory / f"{label}.pem"
        files[label].write_bytes(issued.certificate.public_bytes(Encoding.PEM))
    (directory / "signer.key").write_bytes(
        signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    (directory / "req.der").write_bytes(ocsp_request(pki, [name]))
    subprocess.run(
        ["openssl", "ocsp", "-index", str(directory / f"{issuer.name}.index.txt"),
         "-CA", str(files["ca"]), "-rsigner", str(files["signer"]),
         "-rkey", str(directory / "signer.key"), "-reqin", str(directory / "req.der"),
         "-respout", str(directory / "resp.der")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    shown = subprocess.run(
        ["openssl", "ocsp", "-respin", str(directory / "resp.der"), "-resp_text", "-noverify"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert f"Cert Status: {expected}" in shown.stdout, shown.stdout


def test_a_clear_of_faults_is_committed_too(pki: PKI, tmp_path: Path) -> None:
    state = lab_responder(_worker(pki, tmp_path)).state
    state.set_faults(Faults(nonce="omit"))  # type: ignore[arg-type]
    state.set_faults(Faults())
    assert not lab_responder(_worker(pki, tmp_path)).state.faults.any
