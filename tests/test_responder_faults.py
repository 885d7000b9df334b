"""Every ``[responder.faults]`` misbehaviour, observed from the wire (SCENARIOS.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import socket
import sqlite3
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from flask import Flask

from pki import EPOCH, PKI, build_pki
from pki.certid import issuer_key_hash, issuer_name_hash
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.config import Faults, ResponderConfig
from responder.fault_table import FAULT_KEYS, describe_faults, faults_from_json, faults_to_json
from responder.faults import CRITICAL_EXTENSION_OID
from responder.protocol import NonceForm
from responder.server import InProcessServer
from responder.state import STATE_DB
from responder.testing import cert_id_for, demo_spec, ocsp_request, parse_response

NOW = EPOCH + dt.timedelta(hours=1)
NONCE = bytes(range(32))


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _app(pki: PKI, faults: dict[str, Any]) -> Flask:
    config = ResponderConfig(faults=faults_from_json(faults))
    return create_app(pki, config=config, clock=FixedClock(NOW))


def _post(pki: PKI, faults: dict[str, Any], names: tuple[str, ...] = ("server",)) -> Any:
    app = _app(pki, faults)
    return app.test_client().post("/", data=ocsp_request(pki, list(names), nonce=NONCE))


def _signed(pki: PKI, faults: dict[str, Any], names: tuple[str, ...] = ("server",)) -> Any:
    reply = _post(pki, faults, names)
    assert reply.status_code == 200
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.status == "successful"
    return parsed


def test_no_fault_baseline(pki: PKI) -> None:
    parsed = _signed(pki, {})
    assert parsed.signature_valid and parsed.nonce == NONCE
    assert parsed.singles[0].cert_id == cert_id_for(pki, "server")


@pytest.mark.parametrize("status", [500, 503, 404])
def test_http_status_without_ocsp_body(pki: PKI, status: int) -> None:
    reply = _post(pki, {"http_status": status})
    assert reply.status_code == status and reply.data == b""


def test_content_type_wrong_body_right(pki: PKI) -> None:
    reply = _post(pki, {"content_type": "text/html"})
    assert reply.content_type == "text/html"
    assert parse_response(reply.data, signer=pki["responder"].certificate).signature_valid


@pytest.mark.parametrize("body", ["empty", "garbage", "truncated"])
def test_body_unreadable(pki: PKI, body: str) -> None:
    reply = _post(pki, {"body": body})
    assert reply.status_code == 200
    with pytest.raises(ValueError):
        asn1_ocsp.OCSPResponse.load(reply.data, strict=True).native  # noqa: B018
    if body == "truncated":
        assert reply.data and reply.data[0] == 0x30  # half of a real response


@pytest.mark.parametrize(
    ("status", "wire"),
    [("malformedRequest", "malformed_request"), ("internalError", "internal_error"),
     ("tryLater", "try_later"), ("sigRequired", "sign_required"),
     ("unauthorized", "unauthorized")],
)  # fmt: skip
def test_status_unsuccessful_unsigned(pki: PKI, status: str, wire: str) -> None:
    reply = _post(pki, {"status": status})
    parsed = parse_response(reply.data)
    assert parsed.status == wire and not parsed.singles


@pytest.mark.parametrize("answer", ["good", "revoked", "unknown"])
def test_answer_forced_for_every_certificate(pki: PKI, answer: str) -> None:
    parsed = _signed(pki, {"answer": answer}, ("server", "revoked-leaf", "unknown-leaf"))
    assert parsed.signature_valid
    assert [s.status for s in parsed.singles] == [answer] * 3


def test_signature_corrupt_does_not_verify(pki: PKI) -> None:
    parsed = _signed(pki, {"signature": "corrupt"})
    assert parsed.signature_valid is False
    assert parsed.singles[0].status == "good" and parsed.nonce == NONCE


def test_this_update_in_future(pki: PKI) -> None:
    parsed = _signed(pki, {"this_update": "+1h"})
    assert parsed.singles[0].this_update == NOW + dt.timedelta(hours=1)
    assert parsed.singles[0].next_update > parsed.singles[0].this_update
    assert parsed.signature_valid


def test_next_update_in_past(pki: PKI) -> None:
    parsed = _signed(pki, {"next_update": "-1h"})
    single = parsed.singles[0]
    assert single.next_update == NOW - dt.timedelta(hours=1)
    assert single.this_update < single.next_update and parsed.signature_valid


def test_nonce_omitted(pki: PKI) -> None:
    parsed = _signed(pki, {"nonce": "omit"})
    assert parsed.nonce is None and parsed.signature_valid


def test_nonce_wrong(pki: PKI) -> None:
    parsed = _signed(pki, {"nonce": "wrong"})
    assert parsed.nonce is not None and parsed.nonce != NONCE and len(parsed.nonce) == 32
    assert parsed.signature_valid


def test_cert_id_wrong_serial(pki: PKI) -> None:
    parsed = _signed(pki, {"cert_id": "wrong-serial"})
    assert parsed.singles[0].cert_id.serial == pki["server"].serial + 1


def test_cert_id_wrong_issuer(pki: PKI) -> None:
    parsed = _signed(pki, {"cert_id": "wrong-issuer"})
    expected = cert_id_for(pki, "server")
    got = parsed.singles[0].cert_id
    assert got.serial == expected.serial
    assert got.issuer_name_hash != expected.issuer_name_hash
    assert got.issuer_key_hash != expected.issuer_key_hash


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_cert_id_other_hash(pki: PKI, algorithm: str) -> None:
    asked = "sha1" if algorithm == "sha256" else "sha256"
    app = _app(pki, {"cert_id": algorithm})
    der = ocsp_request(pki, ["server"], algorithm=asked)
    parsed = parse_response(app.test_client().post("/", data=der).data)
    issuer = pki["intermediate"].certificate
    got = parsed.singles[0].cert_id
    assert got.hash_algorithm == algorithm
    assert got.issuer_name_hash == issuer_name_hash(issuer, algorithm)
    assert got.issuer_key_hash == issuer_key_hash(issuer, algorithm)


def test_critical_extension_added(pki: PKI) -> None:
    parsed = _signed(pki, {"critical_extension": True})
    assert parsed.critical_extensions == (CRITICAL_EXTENSION_OID,)
    assert parsed.signature_valid


def test_critical_extension_oid_arcs_fit_in_32_bits(pki: PKI) -> None:
    # GnuTLS cannot read an OID arc of 2^64 or more: the whole response would be
    # unreadable there, not just its extension. Every arc below 2^32 reads everywhere.
    (oid,) = _signed(pki, {"critical_extension": True}).critical_extensions
    arcs = [int(arc) for arc in oid.split(".")]
    assert all(0 <= arc < 2**32 for arc in arcs), oid
    assert oid == x509.ObjectIdentifier(oid).dotted_string  # a well-formed OID


def test_raw_nonce_refused_only_when_raw(pki: PKI) -> None:
    app = _app(pki, {"raw_nonce": "refuse"})
    client = app.test_client()
    raw = ocsp_request(pki, ["server"], nonce=NONCE, nonce_form=NonceForm.RAW)
    assert parse_response(client.post("/", data=raw).data).status == "malformed_request"
    wrapped = parse_response(client.post("/", data=ocsp_request(pki, ["server"], nonce=NONCE)).data)
    assert wrapped.status == "successful" and wrapped.nonce == NONCE
    assert [e.nonce for e in lab_responder(app).requests.entries()] == ["raw", "wrapped"]
    # Without the fault the same raw request is answered.
    assert parse_response(_app(pki, {}).test_client().post("/", data=raw).data).nonce == NONCE


def test_responder_id_wrong(pki: PKI) -> None:
    parsed = _signed(pki, {"responder_id": "wrong"})
    assert parsed.responder_key_hash is not None
    assert parsed.responder_key_hash not in {hashlib.sha1(_key_bits(c)).digest() for c in pki}
    assert parsed.signature_valid  # the right key signed: only the ResponderID lies


def _key_bits(cert: Any) -> bytes:
    from asn1crypto import keys
    from cryptography.hazmat.primitives import serialization

    spki = cert.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def test_delay_is_real_time(pki: PKI) -> None:
    app = _app(pki, {"delay": "300ms"})
    start = time.monotonic()
    reply = app.test_client().post("/", data=ocsp_request(pki, ["server"]))
    assert time.monotonic() - start >= 0.3
    assert parse_response(reply.data).singles[0].status == "good"


def test_down_refuses_connections_and_comes_back(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    with InProcessServer(app) as server:
        port = server.port
        _admin(port, "PUT", "/faults", b'{"down": true}')
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        lab_responder(app).state.set_faults(Faults())
        status, _ = _admin(port, "GET", "/state", b"")
        assert status == 200


def test_faults_change_at_run_time_through_admin_api(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    client = app.test_client()
    der = ocsp_request(pki, ["server"])
    assert parse_response(client.post("/", data=der).data).singles[0].status == "good"
    reply = client.put(f"{ADMIN_PREFIX}/faults", json={"answer": "revoked", "status": None})
    assert reply.status_code == 200 and reply.json == {"answer": "revoked"}
    # the pre-signed good answer is not served while a fault is active
    assert parse_response(client.post("/", data=der).data).singles[0].status == "revoked"
    assert client.delete(f"{ADMIN_PREFIX}/faults").json == {}
    assert parse_response(client.post("/", data=der).data).singles[0].status == "good"
    assert client.put(f"{ADMIN_PREFIX}/faults", json={"nonce": "maybe"}).status_code == 400


EVERY_FAULT = {"delay": "1d12h", "this_update": "+1h", "next_update": "-1h", "nonce": "wrong",
               "signature": "corrupt", "responder_id": "wrong", "cert_id": "wrong-serial",
               "body": "truncated", "critical_extension": True, "down": True,
               "http_status": 503, "content_type": "text/html", "status": "tryLater",
               "answer": "unknown", "raw_nonce": "refuse"}  # fmt: skip


def test_faults_json_round_trip() -> None:
    faults = faults_from_json(EVERY_FAULT)
    assert faults_to_json(faults) == EVERY_FAULT
    with pytest.raises(ValueError, match=r"faults\.colour"):
        faults_from_json({"colour": "red"})


def test_fault_table_has_one_row_per_field_and_words_for_each() -> None:
    assert sorted(row.field for row in FAULT_KEYS) == sorted(f.name for f in fields(Faults))
    assert {row.key for row in FAULT_KEYS} == set(EVERY_FAULT)
    words = describe_faults(faults_from_json(EVERY_FAULT))
    assert len(words) == len(FAULT_KEYS) and all(words)
    assert "answers after 1d12h of real time" in words[1]
    assert describe_faults(Faults()) == []


@pytest.mark.parametrize("value", ["1.5s", "5s1d", "-5s", "5 s", 5, ""])
def test_admin_api_refuses_a_duration_outside_the_grammar(pki: PKI, value: object) -> None:
    client = _app(pki, {}).test_client()
    reply = client.put(f"{ADMIN_PREFIX}/faults", json={"delay": value})
    assert reply.status_code == 400
    assert reply.json is not None and reply.json["key"] == "faults.delay"
    assert reply.json["error"].startswith("faults.delay: expected a duration like")
    assert client.get(f"{ADMIN_PREFIX}/state").json["faults"] == {}  # nothing was set


def test_admin_api_takes_offsets_with_a_sign_and_the_extensions(pki: PKI) -> None:
    client = _app(pki, {}).test_client()
    reply = client.put(f"{ADMIN_PREFIX}/faults", json={"next_update": "-5s", "raw_nonce": "refuse"})
    assert reply.status_code == 200
    assert reply.json == {"next_update": "-5s", "raw_nonce": "refuse"}


def test_state_file_and_state_write_durations_in_the_grammar(pki: PKI, tmp_path: Path) -> None:
    config = ResponderConfig(faults=faults_from_json({"delay": "1d", "this_update": "-90m"}))
    app = create_app(pki, config=config, clock=FixedClock(NOW), state_dir=tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / STATE_DB)) as db:
        (stored,) = db.execute("SELECT value FROM meta WHERE key = 'faults'").fetchone()
    assert json.loads(stored) == {"delay": "1d", "this_update": "-1h30m"}
    state = app.test_client().get(f"{ADMIN_PREFIX}/state").json
    assert state["responder"]["next_update"] == "1d"
    assert (
        state["misbehaviour"][0] == "answers after 1d of real time (a slow or overloaded responder)"
    )


@pytest.mark.parametrize("value", ["a\rb: c", "text/html\n", "a\u20ac", "", "x\x00y", 7])
def test_content_type_fault_must_be_a_header_value(value: object) -> None:
    # CR/LF would split the header, non-ASCII cannot be sent: the server would fail (a 500).
    with pytest.raises(ValueError, match=r"faults\.content_type"):
        faults_from_json({"content_type": value})


def _admin(port: int, method: str, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "application/json"}
    connection.request(method, ADMIN_PREFIX + path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def test_status_page_tells_each_active_fault_in_the_tables_words(pki: PKI) -> None:
    client = _app(pki, {}).test_client()
    assert client.put(f"{ADMIN_PREFIX}/faults", json={"delay": "5s", "raw_nonce": "refuse"}).json
    page = client.get(f"{ADMIN_PREFIX}/").data.decode()
    for words in describe_faults(faults_from_json({"delay": "5s", "raw_nonce": "refuse"})):
        assert f"<li>it {words}</li>" in page
