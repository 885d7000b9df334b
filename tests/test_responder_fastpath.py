"""The lean path: pre-encoded DER pieces, the WSGI fast path, ``serve``'s asyncio worker.

The signing layer re-uses DER it encoded before (SingleResponses, ResponderID,
certs, algorithm); these tests hold it to what encoding everything anew gives,
and the nonce path to what RFC 8954 asks: each request its own, valid answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp

from pki import EPOCH, PKI, build_pki
from pki.spec import REASONS
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.config import CertsIncluded, Faults, ResponderConfig, ResponderIdKind
from responder.signing import CertStatus, Extension, ResponseDraft, Signer
from responder.testing import demo_spec, ocsp_request, parse_response

OCSP = {"Content-Type": "application/ocsp-request"}
NOW = EPOCH + dt.timedelta(hours=1)
EXTRA: list[str] = []
NAMES = ["server", "revoked-leaf", "held-leaf", "unknown-leaf"]


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _reference_sign(draft: ResponseDraft, signer: Signer) -> bytes:
    """The whole response built anew with asn1crypto, nothing re-used."""
    singles = []
    for answer in draft.singles:
        if answer.status is CertStatus.REVOKED:
            info: dict[str, object] = {"revocation_time": answer.revoked_at}
            if answer.reason is not None:
                info["revocation_reason"] = REASONS[answer.reason]
            status = asn1_ocsp.CertStatus(name="revoked", value=asn1_ocsp.RevokedInfo(info))
        else:
            status = asn1_ocsp.CertStatus(name=answer.status.value, value=core.Null())
        single: dict[str, object] = {
            "cert_id": answer.cert_id.to_asn1(),
            "cert_status": status,
            "this_update": answer.this_update,
        }
        if answer.next_update is not None:
            single["next_update"] = answer.next_update
        singles.append(asn1_ocsp.SingleResponse(single))
    data: dict[str, object] = {
        "responder_id": draft.responder_id_override or signer.responder_id(draft.responder_id),
        "produced_at": draft.produced_at,
        "responses": singles,
    }
    if draft.extensions:
        data["response_extensions"] = [
            {"extn_id": e.oid, "critical": e.critical,
             "extn_value": asn1_ocsp.ParsableOctetString(e.value)}
            for e in draft.extensions
        ]  # fmt: skip
    tbs = asn1_ocsp.ResponseData(data)
    basic: dict[str, object] = {
        "tbs_response_data": tbs,
        "signature_algorithm": signer.algorithm,
        "signature": signer.signature(tbs.dump()),
    }
    if signer.certs(draft.certs):
        basic["certs"] = signer.certs(draft.certs)
    return bytes(
        asn1_ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {
                    "response_type": "basic_ocsp_response",
                    "response": asn1_ocsp.BasicOCSPResponse(basic),
                },
            }
        ).dump()
    )


@pytest.mark.parametrize("certs", list(CertsIncluded))
@pytest.mark.parametrize("responder_id", list(ResponderIdKind))
@pytest.mark.parametrize("nonce", [None, b"\x01" * 32])
def test_sign_with_pre_encoded_pieces_equals_encoding_anew(
    pki: PKI, certs: CertsIncluded, responder_id: ResponderIdKind, nonce: bytes | None
) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    reply = lab_responder(app).database_source.respond(ocsp_request(pki, NAMES, nonce=nonce))
    assert reply.draft is not None and reply.signer is not None
    draft = dataclasses.replace(reply.draft, certs=certs, responder_id=responder_id)
    # Twice: the second takes the memoised SingleResponses (deterministic ECDSA: same bytes).
    assert reply.signer.sign(draft) == _reference_sign(draft, reply.signer)
    assert reply.signer.sign(draft) == _reference_sign(draft, reply.signer)


def test_memoised_singles_follow_every_field(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    reply = lab_responder(app).database_source.respond(ocsp_request(pki, ["server"]))
    assert reply.draft is not None and reply.signer is not None
    good = reply.draft
    single = good.singles[0]
    variants = [
        dataclasses.replace(single, status=CertStatus.REVOKED, revoked_at=EPOCH, reason=None),
        dataclasses.replace(single, status=CertStatus.REVOKED, revoked_at=EPOCH,
                            reason="keyCompromise"),
        dataclasses.replace(single, status=CertStatus.UNKNOWN),
        dataclasses.replace(single, this_update=single.this_update + dt.timedelta(seconds=1)),
        dataclasses.replace(single, next_update=None),
        dataclasses.replace(single, cert_id=dataclasses.replace(single.cert_id, serial=7)),
    ]  # fmt: skip
    bodies = {reply.signer.sign(good)}
    for variant in variants:
        draft = dataclasses.replace(good, singles=(variant,))
        body = reply.signer.sign(draft)
        assert body == _reference_sign(draft, reply.signer)
        bodies.add(body)
    assert len(bodies) == len(variants) + 1


def test_extensions_encode_as_asn1crypto_does(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    reply = lab_responder(app).database_source.respond(ocsp_request(pki, ["server"], nonce=b"n"))
    assert reply.draft is not None and reply.signer is not None
    extensions = (
        *reply.draft.extensions,
        Extension("1.3.6.1.5.5.7.48.1.9", b"\x05\x00"),  # extended revoke: NULL
        Extension("2.25.1234", core.OctetString(b"x").dump(), critical=True),
    )
    for draft in (
        dataclasses.replace(reply.draft, extensions=extensions),
        dataclasses.replace(reply.draft, extensions=extensions[1:]),
        dataclasses.replace(reply.draft, extensions=()),
    ):
        assert reply.signer.sign(draft) == _reference_sign(draft, reply.signer)


def test_nonce_path_echoes_each_nonce_in_its_own_valid_response(pki: PKI) -> None:
    app = create_app(pki, clock=FixedClock(NOW))
    client = app.test_client()
    signer = pki["responder"].certificate
    nonces = [b"\xaa" * 32, b"\xbb" * 32]
    bodies = [client.post("/", data=ocsp_request(pki, NAMES, nonce=n), headers=OCSP).data
              for n in nonces]  # fmt: skip
    assert bodies[0] != bodies[1]
    parsed = [parse_response(body, signer=signer) for body in bodies]
    for answer, nonce in zip(parsed, nonces, strict=True):
        assert answer.signature_valid
        assert answer.nonce == nonce
        assert [s.status for s in answer.singles] == ["good", "revoked", "revoked", "unknown"]
    assert parsed[0].singles == parsed[1].singles  # the same answer, only the nonce differs
    assert lab_responder(app).cache.hits == 0  # never from the pre-signed cache


def test_nonce_path_answers_database_changes_at_once(pki: PKI) -> None:
    clock = FixedClock(NOW)
    app = create_app(pki, clock=clock)
    client = app.test_client()
    first = parse_response(client.post("/", data=ocsp_request(pki, ["server"], nonce=b"1")).data)
    lab_responder(app).state.revoke("server", clock(), "superseded")
    second = parse_response(client.post("/", data=ocsp_request(pki, ["server"], nonce=b"2")).data)
    assert first.singles[0].status == "good" and second.singles[0].status == "revoked"


def test_lean_path_leaves_other_methods_and_odd_posts_to_flask(pki: PKI) -> None:
    client = create_app(pki, clock=FixedClock(NOW)).test_client()
    assert client.put("/", data=b"x").status_code == 405
    empty = client.post("/", data=b"", headers=OCSP)
    assert empty.status_code == 200 and parse_response(empty.data).status == "malformed_request"
    big = client.post("/", data=b"\x30" * (64 * 1024 + 1), headers=OCSP)
    assert big.status_code == 413
    root = client.get("/")
    assert root.status_code == 200 and parse_response(root.data).status == "malformed_request"


def test_lean_path_status_line_for_http_status_fault(pki: PKI) -> None:
    config = ResponderConfig()
    app = create_app(pki, config=config, clock=FixedClock(NOW))

    lab_responder(app).state.set_faults(Faults(http_status=503))
    reply = app.test_client().post("/", data=ocsp_request(pki, ["server"]), headers=OCSP)
    assert reply.status == "503 SERVICE UNAVAILABLE" and reply.data == b""


# ---- ocsp-lab serve: gunicorn's asyncio worker ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class Served:
    """A running ``ocsp-lab serve --workers 1`` and requests for the PKI it wrote."""

    port: int
    out: Path

    def request(self, name: str = "server", nonce: bytes | None = None) -> bytes:
        """DER OCSPRequest for ``name``, built from the certificates serve wrote."""
        cert = x509.load_pem_x509_certificate((self.out / f"{name}.pem").read_bytes())
        issuer = x509.load_pem_x509_certificate((self.out / "intermediate.pem").read_bytes())
        builder = x509_ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.build().public_bytes(serialization.Encoding.DER)

    def connection(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def post(self, der: bytes, timeout: float = 10) -> tuple[int, bytes]:
        connection = self.connection(timeout)
        try:
            connection.request("POST", "/", body=der, headers=OCSP)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def admin(self, method: str, path: str, doc: object = None) -> object:
        connection = self.connection()
        try:
            body = None if doc is None else json.dumps(doc).encode()
            connection.request(method, f"{ADMIN_PREFIX}/{path}", body=body,
                               headers={"Content-Type": "application/json"})  # fmt: skip
            response = connection.getresponse()
            assert response.status == 200, response.read()
            return json.load(response)
        finally:
            connection.close()


@contextlib.contextmanager
def _serving(tmp_path: Path) -> Iterator[Served]:
    port = _free_port()
    out = tmp_path / "out"
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(out),
             "--workers", "1", "--quiet", *EXTRA],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, f"serve exited early: {log.read_text()}"
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.1)
        yield Served(port, out)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _answer(status: int, body: bytes) -> str:
    assert status == 200
    parsed = parse_response(body)
    assert parsed.status == "successful" and len(parsed.singles) == 1
    return parsed.singles[0].status


@pytest.mark.interop
def test_serve_keeps_one_connection_alive_for_many_requests(tmp_path: Path) -> None:
    with _serving(tmp_path) as served:
        der = served.request()
        connection = served.connection()
        try:
            first_socket = None
            for i in range(30):  # one kept-alive connection, nonce and no nonce in turn
                nonce = bytes([i + 1]) * 16 if i % 2 else None
                connection.request("POST", "/", body=served.request(nonce=nonce) if nonce else der,
                                   headers=OCSP)  # fmt: skip
                response = connection.getresponse()
                answer = parse_response(response.read())
                assert response.status == 200 and answer.singles[0].status == "good"
                assert answer.nonce == nonce
                assert response.getheader("Connection", "").lower() != "close"
                first_socket = first_socket or connection.sock
                assert connection.sock is first_socket  # http.client never had to reconnect
        finally:
            connection.close()


@pytest.mark.interop
def test_serve_answers_promptly_despite_silent_and_half_sent_clients(tmp_path: Path) -> None:
    with _serving(tmp_path) as served:
        der = served.request()
        idle: list[socket.socket] = []
        try:
            # Silent clients, a request cut in its headers and one cut in its body: each
            # is a waiting coroutine in the one worker, none may keep others waiting.
            idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(6)]
            idle[4].sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
            idle[5].sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d"
                            b"\r\n\r\n" % len(der) + der[:10])  # fmt: skip
            for _ in range(3):
                assert _answer(*served.post(der, timeout=5)) == "good"
        finally:
            for sock in idle:
                sock.close()


@pytest.mark.interop
def test_serve_delay_fault_leaves_the_event_loop_free(tmp_path: Path) -> None:
    delay = 0.5
    with _serving(tmp_path) as served:
        assert served.admin("PUT", "faults", {"delay": "500ms"}) == {"delay": "500ms"}
        nonces = [bytes([i + 1]) * 16 for i in range(4)]
        ders = [served.request(nonce=n) for n in nonces]
        answers: list[tuple[int, bytes] | BaseException | None] = [None] * 4
        finished: list[float] = [0.0] * 4
        barrier = threading.Barrier(5)

        def ask(i: int) -> None:
            barrier.wait()
            try:
                answers[i] = served.post(ders[i], timeout=10)
            except BaseException as exc:  # reported below, in the test's thread
                answers[i] = exc
            finished[i] = time.monotonic()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.monotonic()
        time.sleep(0.1)
        # While the four sleep their delay, the admin API (Flask, another thread) answers.
        state = served.admin("GET", "state")
        admin_done = time.monotonic()
        for thread in threads:
            thread.join(timeout=20)
        elapsed = max(finished) - started
        for answer, nonce in zip(answers, nonces, strict=True):
            assert isinstance(answer, tuple), answer
            assert _answer(*answer) == "good"
            assert parse_response(answer[1]).nonce == nonce
        assert isinstance(state, dict) and state["faults"] == {"delay": "500ms"}
        assert admin_done < min(finished)
        # Served one after the other they would take 4 × delay.
        assert delay <= elapsed < 3 * delay, elapsed

        assert served.admin("DELETE", "faults") == {}
        assert _answer(*served.post(ders[0])) == "good"


@pytest.mark.interop
def test_serve_down_fault_drops_connections_until_cleared(tmp_path: Path) -> None:
    with _serving(tmp_path) as served:
        der = served.request()
        assert _answer(*served.post(der)) == "good"
        assert served.admin("PUT", "faults", {"down": True}) == {"down": True}
        for _ in range(2):
            # RemoteDisconnected (the connection ends without a byte) is a ConnectionError.
            with pytest.raises(ConnectionError):
                served.post(der, timeout=5)
        assert served.admin("DELETE", "faults") == {}
        assert _answer(*served.post(der)) == "good"
        assert _answer(*served.post(served.request(nonce=b"n" * 16))) == "good"
