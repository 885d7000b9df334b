"""``serve --tls``'s connections on the status page: the stored rows, the words, the feed.

The browser's view is in ``tests/test_status_page_tls_csr.py``; here the parts
under it: the shared ``connections`` table (written by one process, read by
every worker), the sentence each outcome gets (the log line and the page say
the same), and the feed and event stream that carry the rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from flask import Flask

from lab.connection_story import ALERT_MEANINGS, connection_entry, connection_listener, peer_did
from lab.tls import Alert, ConnectionRecord, HandshakeOutcome
from pki import EPOCH, PKI, build_pki
from responder.app import create_app, lab_responder
from responder.clock import FixedClock
from responder.live import EventStream, feed
from responder.store import CONNECTION_LOG_ROWS, ConnectionLog
from responder.testing import demo_spec

NOW = EPOCH + dt.timedelta(hours=1)
ENDED = dt.datetime(2026, 12, 1, 12, 0, 5, 250000, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _worker(pki: PKI, directory: Path) -> Flask:
    return create_app(pki, state_dir=directory, clock=FixedClock(NOW))


def _refused(alert: Alert = Alert.CERTIFICATE_REVOKED) -> ConnectionRecord:
    return ConnectionRecord(
        "127.0.0.1:40001",
        HandshakeOutcome.PEER_ALERT,
        alert=alert,
        staple_requested=True,
        stapled=842,
        seconds=0.0125,
    )


def test_a_refusal_says_the_alert_number_name_and_meaning() -> None:
    assert peer_did(_refused()) == (
        "the peer refused: alert 44 certificate_revoked — it found the certificate revoked"
    )
    assert "alert 48 unknown_ca — it does not trust the CA" in peer_did(_refused(Alert.UNKNOWN_CA))
    assert "alert 46 certificate_unknown" in peer_did(_refused(Alert.CERTIFICATE_UNKNOWN))
    late = ConnectionRecord(
        "p", HandshakeOutcome.PEER_ALERT, alert=Alert.BAD_CERTIFICATE, detail="after the handshake"
    )
    assert peer_did(late).startswith("the peer refused after the handshake: alert 42")
    # An alert without a meaning of its own still says its number and name.
    assert peer_did(_refused(Alert.RECORD_OVERFLOW)).startswith(
        "the peer refused: alert 22 record_overflow — "
    )


@pytest.mark.parametrize(
    "outcome, words",
    [
        (HandshakeOutcome.COMPLETED, "the peer accepted the certificate: the handshake completed"),
        (HandshakeOutcome.TIMEOUT, "the peer went silent: the handshake timed out"),
        (HandshakeOutcome.CLOSED, "the peer left mid-handshake without an alert"),
        (HandshakeOutcome.ERROR, "the handshake failed: wrong version number"),
    ],
)
def test_every_outcome_has_its_words(outcome: HandshakeOutcome, words: str) -> None:
    record = ConnectionRecord("p", outcome, detail="wrong version number")
    assert peer_did(record).startswith(words)


def test_local_refusals_say_this_endpoint_refused() -> None:
    record = ConnectionRecord("p", HandshakeOutcome.LOCAL_ALERT, alert=Alert.CERTIFICATE_UNKNOWN)
    assert peer_did(record).startswith("this endpoint refused the peer's certificate: alert 46")


def test_alert_meanings_are_about_certificates_where_the_rfc_is() -> None:
    # The certificate alerts of RFC 8446 6.2, each with its own sentence.
    for alert in (Alert.BAD_CERTIFICATE, Alert.CERTIFICATE_REVOKED, Alert.CERTIFICATE_EXPIRED,
                  Alert.CERTIFICATE_UNKNOWN, Alert.UNKNOWN_CA):  # fmt: skip
        assert "certificate" in ALERT_MEANINGS[alert] or "CA" in ALERT_MEANINGS[alert]
    assert "stapled OCSP answer" in ALERT_MEANINGS[Alert.BAD_CERTIFICATE_STATUS_RESPONSE]


def test_the_entry_spans_the_connection_and_names_what_was_presented() -> None:
    entry = connection_entry(_refused(), presented="server", subject="CN=server", ended=ENDED)
    assert entry["t_end"] - entry["t_start"] == pytest.approx(0.0125, abs=1e-5)
    assert entry["at"] == "2026-12-01 12:00:05Z"
    assert entry["alert_code"] == 44 and entry["alert"] == "certificate_revoked"
    assert entry["refused"] is True and entry["presented"] == "server"
    assert entry["staple_words"] == "stapled an OCSP answer (842 bytes)"
    assert entry["ms"] == 12.5
    asked = ConnectionRecord("p", HandshakeOutcome.COMPLETED, staple_requested=True)
    plain = connection_entry(asked, presented="server", subject="", ended=ENDED)
    assert plain["staple_words"] == "the peer asked for a staple; none was sent"
    assert plain["refused"] is False
    silent = ConnectionRecord("p", HandshakeOutcome.COMPLETED)
    words = connection_entry(silent, presented="server", subject="", ended=ENDED)["staple_words"]
    assert words == "the peer asked for no staple"
    # An endpoint that does not staple never hears status_request: it says so, not "no".
    off = connection_entry(silent, presented="server", subject="", ended=ENDED, stapling=False)
    assert off["staple_words"].startswith("nothing stapled (this endpoint does not staple")


def test_rows_written_by_one_process_are_read_by_every_worker(pki: PKI, tmp_path: Path) -> None:
    first, second = _worker(pki, tmp_path), _worker(pki, tmp_path)
    store = lab_responder(first).state.store
    assert store is not None
    master = ConnectionLog(store.path)  # serve's endpoint writes through its own object
    entry = connection_entry(_refused(), presented="server", subject="CN=server", ended=ENDED)
    assert master.add(entry) == 1
    (row,) = feed(lab_responder(second), 0)["connections"]
    assert row["id"] == 1 and row["words"] == entry["words"]
    assert lab_responder(first).state.store.connections.newest_id() == 1  # type: ignore[union-attr]


def test_the_admin_api_lists_the_connections(pki: PKI, tmp_path: Path) -> None:
    app = _worker(pki, tmp_path)
    store = lab_responder(app).state.store
    assert store is not None
    ConnectionLog(store.path).add(
        connection_entry(_refused(), presented="server", subject="CN=server", ended=ENDED)
    )
    (row,) = app.test_client().get("/~admin/connections").get_json()
    assert row["alert_code"] == 44 and row["words"].startswith("the peer refused: alert 44")


def test_the_table_keeps_the_newest_rows(pki: PKI, tmp_path: Path) -> None:
    store = lab_responder(_worker(pki, tmp_path)).state.store
    assert store is not None
    table = ConnectionLog(store.path)
    for i in range(CONNECTION_LOG_ROWS + 5):
        table.add({"n": i})
    rows = table.recent(CONNECTION_LOG_ROWS + 100)
    assert len(rows) == CONNECTION_LOG_ROWS
    assert rows[-1][1] == {"n": CONNECTION_LOG_ROWS + 4} and rows[0][1] == {"n": 5}


def test_another_scenario_starts_with_no_rows(pki: PKI, tmp_path: Path) -> None:
    store = lab_responder(_worker(pki, tmp_path)).state.store
    assert store is not None
    ConnectionLog(store.path).add({"n": 1})
    other = create_app(build_pki(), state_dir=tmp_path, clock=FixedClock(NOW))
    assert feed(lab_responder(other), 0)["connections"] == []


def test_a_new_connection_is_news_for_an_open_stream(pki: PKI, tmp_path: Path) -> None:
    app = _worker(pki, tmp_path)
    responder = lab_responder(app)
    stream = EventStream(responder, 0)
    assert b"event: feed" in stream.first()
    assert stream.step() is None  # nothing moved
    assert responder.state.store is not None
    ConnectionLog(responder.state.store.path).add(
        connection_entry(_refused(), presented="server", subject="", ended=ENDED)
    )
    chunk = stream.step()
    assert chunk is not None and b"certificate_revoked" in chunk


def test_an_in_memory_responder_has_no_rows(pki: PKI) -> None:
    assert feed(lab_responder(create_app(pki, clock=FixedClock(NOW))), 0)["connections"] == []


def test_the_listener_logs_the_same_words_and_stores_the_row(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = lab_responder(_worker(pki, tmp_path)).state.store
    assert store is not None
    table = ConnectionLog(store.path)
    heard = connection_listener("server", "CN=server", table, stapling=True, clock=lambda: ENDED)
    with caplog.at_level(logging.INFO, logger="responder.tls"):
        heard(_refused())
    (line,) = [r.getMessage() for r in caplog.records if r.name == "responder.tls"]
    ((_, row),) = table.recent(5)
    assert line.startswith(f"tls 127.0.0.1:40001: {row['words']} (server presented; ")
    assert "alert 44 certificate_revoked — it found the certificate revoked" in line


def test_a_row_that_cannot_be_stored_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    table = ConnectionLog(tmp_path / "no-such-dir" / "state.sqlite3")  # cannot be opened
    heard = connection_listener("server", "CN=server", None, stapling=True, clock=lambda: ENDED)
    heard(_refused())  # no table: the log line only
    broken = connection_listener("server", "CN=server", table, stapling=True, clock=lambda: ENDED)
    with caplog.at_level(logging.INFO, logger="responder.tls"):
        try:
            broken(_refused())
        except Exception as exc:  # pragma: no cover - what the test is about
            pytest.fail(f"the endpoint's thread would die: {exc!r}")
    assert any(r.levelno == logging.WARNING for r in caplog.records), caplog.records
