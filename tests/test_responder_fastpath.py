"""The lean path: pre-encoded DER pieces, the WSGI fast path and the keep-serving worker.

The signing layer re-uses DER it encoded before (SingleResponses, ResponderID,
certs, algorithm); these tests hold it to what encoding everything anew gives,
and the nonce path to what RFC 8954 asks: each request its own, valid answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp

from pki import EPOCH, PKI, build_pki
from pki.spec import REASONS
from responder.app import create_app, lab_responder
from responder.clock import FixedClock
from responder.config import CertsIncluded, Faults, ResponderConfig, ResponderIdKind
from responder.signing import CertStatus, Extension, ResponseDraft, Signer, sign
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
    assert sign(draft, reply.signer) == _reference_sign(draft, reply.signer)
    assert sign(draft, reply.signer) == _reference_sign(draft, reply.signer)


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
    bodies = {sign(good, reply.signer)}
    for variant in variants:
        draft = dataclasses.replace(good, singles=(variant,))
        body = sign(draft, reply.signer)
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
        assert sign(draft, reply.signer) == _reference_sign(draft, reply.signer)


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


# ---- the keep-serving gunicorn worker -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.interop
def test_keep_serving_worker_serves_keepalive_and_silent_clients(pki: PKI, tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", "--port", str(port), "--out", str(tmp_path),
         "--workers", "1", "--threads", "2", "--quiet", *EXTRA],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    silent: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        # More silent clients than threads: none may hold a thread.
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        der = ocsp_request(pki, ["server"])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(30):  # one kept-alive connection, many requests
            body = ocsp_request(pki, ["server"], nonce=bytes([i + 1]) * 16) if i % 2 else der
            connection.request("POST", "/", body=body, headers=OCSP)
            response = connection.getresponse()
            assert response.status == 200
            answer = parse_response(response.read())
            assert answer.singles[0].status == "good"
            assert answer.nonce == (bytes([i + 1]) * 16 if i % 2 else None)
        connection.close()
        other = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        other.request("POST", "/", body=der, headers=OCSP)
        assert other.getresponse().status == 200
        other.close()
    finally:
        for sock in silent:
            sock.close()
        proc.terminate()
        proc.wait(timeout=15)
