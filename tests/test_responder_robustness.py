"""Never falls over: silent and half-sent clients, concurrent changes, restarts, admin access."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from pki import EPOCH, PKI, build_pki
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.server import InProcessServer
from responder.state import STATE_DB
from responder.testing import demo_spec, ocsp_request, parse_response

NOW = EPOCH + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _post(port: int, der: bytes, timeout: float = 5) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("POST", "/", body=der, headers={"Content-Type": "application/ocsp-request"})
    body = connection.getresponse().read()
    connection.close()
    return body


def _admin(port: int, path: str, doc: dict[str, object] | None = None,
           token: str | None = None) -> tuple[int, dict[str, object]]:  # fmt: skip
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    method = "GET" if doc is None else "POST"
    body = None if doc is None else json.dumps(doc)
    connection.request(method, ADMIN_PREFIX + path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, {}


def test_silent_and_half_sent_clients_do_not_block_others(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    with InProcessServer(app, timeout=30) as server:
        silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        half = socket.create_connection(("127.0.0.1", server.port))
        half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n\x30\x82")
        headers_only = socket.create_connection(("127.0.0.1", server.port))
        headers_only.sendall(b"GET /MEIw HTTP/1.1\r\nHost: x\r\n")
        try:
            start = time.monotonic()
            for _ in range(5):
                body = _post(server.port, ocsp_request(pki, ["server"]), timeout=3)
                assert parse_response(body).singles[0].status == "good"
            assert time.monotonic() - start < 3
        finally:
            for sock in [*silent, half, headers_only]:
                sock.close()


def test_concurrent_revocations_every_answer_matches_some_database_state(
    pki: PKI, tmp_path: Path
) -> None:
    app = create_app(pki, state_dir=tmp_path)
    state = lab_responder(app).state
    # (monotonic time the change was known done, status from then on)
    history: list[tuple[float, float, str]] = [(0.0, 0.0, "good")]
    answers: list[tuple[float, float, str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load(port: int, nonce: bool) -> None:
        index = 0
        while not stop.is_set() and index < 400:
            index += 1
            der = ocsp_request(pki, ["server"], nonce=index.to_bytes(4, "big") if nonce else None)
            started = time.monotonic()
            try:
                status = parse_response(_post(port, der)).singles[0].status
            except BaseException as exc:  # surfaced after join
                errors.append(exc)
                return
            answers.append((started, time.monotonic(), status))

    with InProcessServer(app) as server:
        workers = [threading.Thread(target=load, args=(server.port, i % 2 == 0)) for i in range(4)]
        for worker in workers:
            worker.start()
        for round_ in range(12):
            action = "hold" if round_ % 2 == 0 else "release"
            before = time.monotonic()
            code, _ = _admin(server.port, f"/{action}", {"name": "server"})
            assert code == 200
            history.append((before, time.monotonic(), "revoked" if action == "hold" else "good"))
            time.sleep(0.02)
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert not errors, errors
    assert len(answers) > 20
    for started, ended, status in answers:
        # the state current when the request started, or any change made while it ran
        current = [s for (b, a, s) in history if a <= started][-1:]
        during = [s for (b, a, s) in history if b <= ended and a >= started]
        assert status in current + during, (started, ended, status)
    assert state.database.by_name("server") is not None


def test_restart_keeps_database_and_faults(pki: PKI, tmp_path: Path) -> None:
    app = create_app(pki, state_dir=tmp_path, clock=FixedClock(NOW))
    client = app.test_client()
    assert client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "server",
                       "reason": "superseded"}).status_code == 200  # fmt: skip
    assert client.put(f"{ADMIN_PREFIX}/faults", json={"nonce": "omit"}).status_code == 200
    assert (tmp_path / STATE_DB).stat().st_mode & 0o777 == 0o600
    again = create_app(pki, state_dir=tmp_path, clock=FixedClock(NOW))
    der = ocsp_request(pki, ["server"], nonce=b"k" * 16)
    parsed = parse_response(again.test_client().post("/", data=der).data)
    assert parsed.singles[0].status == "revoked" and parsed.singles[0].reason == "superseded"
    assert parsed.nonce is None  # the fault survived too


def test_other_worker_sees_change_on_next_request(pki: PKI, tmp_path: Path) -> None:
    first = create_app(pki, state_dir=tmp_path, clock=FixedClock(NOW))
    second = create_app(pki, state_dir=tmp_path, clock=FixedClock(NOW))
    der = ocsp_request(pki, ["server"])
    client = second.test_client()
    assert parse_response(client.post("/", data=der).data).singles[0].status == "good"
    lab_responder(first).state.hold("server", NOW)
    assert parse_response(client.post("/", data=der).data).singles[0].status == "revoked"
    lab_responder(second).state.release("server")
    lab_responder(first).state.refresh()
    assert lab_responder(first).state.database.by_name("server").status.value == "good"  # type: ignore[union-attr]


def test_admin_refuses_remote_clients_without_token(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    client = app.test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get(f"{ADMIN_PREFIX}/state", environ_base=remote).status_code == 403
    assert client.get(f"{ADMIN_PREFIX}/state").status_code == 200  # loopback


def test_admin_token_guards_changes(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW), admin_token="s3cret")
    client = app.test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get(f"{ADMIN_PREFIX}/state", environ_base=remote).status_code == 200
    revoke = {"name": "server"}
    assert client.post(f"{ADMIN_PREFIX}/revoke", json=revoke).status_code == 401
    ok = client.post(f"{ADMIN_PREFIX}/revoke", json=revoke, environ_base=remote,
                     headers={"Authorization": "Bearer s3cret"})  # fmt: skip
    assert ok.status_code == 200 and ok.json == {"name": "server", "status": "revoked"}


def test_admin_never_returns_private_keys(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    client = app.test_client()
    client.post("/", data=ocsp_request(pki, ["server", "held-leaf"]))
    pages = [client.get(f"{ADMIN_PREFIX}/{p}").data for p in ("", "state", "requests")]
    assert all(b"PRIVATE KEY" not in page and b"private" not in page.lower() for page in pages)
    page = pages[0].decode()
    assert "held-leaf" in page and "revoke" in page and format(pki["server"].serial, "X") in page
    log = json.loads(pages[2])
    assert log[-1]["names"] == ["server", "held-leaf"] and log[-1]["answer"] == "good,revoked"


def test_admin_release_of_revoked_is_conflict(pki: PKI) -> None:
    client = create_app(pki, clock=FixedClock(NOW)).test_client()
    assert client.post(f"{ADMIN_PREFIX}/release", json={"name": "revoked-leaf"}).status_code == 409
    assert client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "nobody"}).status_code == 400
    forget = client.post(f"{ADMIN_PREFIX}/forget", json={"name": "server"})
    assert forget.json == {"name": "server", "status": "unknown"}
    der = ocsp_request(pki, ["server"])
    assert parse_response(client.post("/", data=der).data).singles[0].status == "unknown"
