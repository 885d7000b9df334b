"""The ASGI adapter (``responder/asgi.py``) in-process: hand-made scopes, no server, no socket.

Each test drives :class:`~responder.asgi.AsgiResponder` with ``asyncio.run`` and
its own ``receive``/``send``, as gunicorn's asyncio worker would, and checks what
went out: the ASGI messages (one ``http.response.start``, then the body), the
status, the headers and the OCSP body. The WSGI app answers the same requests
alike (same clock, same bytes); nothing — a bad body, a bad path, a bad header,
an exception in the source — makes it answer 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import re
import sqlite3
import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import pytest
from asn1crypto import ocsp as asn1_ocsp
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki import EPOCH, PKI, build_pki
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.asgi import AsgiResponder
from responder.clock import FixedClock
from responder.config import Faults
from responder.protocol import MAX_REQUEST_BYTES, OCSP_RESPONSE_TYPE
from responder.state import STATE_DB
from responder.testing import cert_id_for, demo_spec, ocsp_request, parse_response

NOW = EPOCH + dt.timedelta(hours=1)
NAMES = ["server", "revoked-leaf", "held-leaf", "unknown-leaf"]
#: What the demo PKI's database says of each (``held-leaf``: revoked, certificateHold).
EXPECTED = {"server": "good", "revoked-leaf": "revoked", "held-leaf": "revoked",
            "unknown-leaf": "unknown"}  # fmt: skip
Message = dict[str, Any]


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _app(pki: PKI, **kwargs: Any) -> Flask:
    return create_app(pki, clock=FixedClock(NOW), **kwargs)


# ---- driving the adapter ------------------------------------------------------------------


def _scope(method: str, raw_path: bytes, headers: Sequence[tuple[bytes, bytes]] = (),
           client: tuple[str, int] | None = ("127.0.0.1", 50000)) -> Message:  # fmt: skip
    """An HTTP scope as gunicorn builds it: ``path`` is ``raw_path`` percent-decoded."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": list(headers),
        "client": client,
        "server": ("127.0.0.1", 8080),
    }


async def _exchange(
    app: AsgiResponder, scope: Message, incoming: Sequence[Message]
) -> list[Message]:
    """Call the app once; feed it ``incoming``, then a disconnect; return what it sent."""
    sent, _ = await _exchange_leaving(app, scope, incoming)
    return sent


async def _exchange_leaving(
    app: AsgiResponder, scope: Message, incoming: Sequence[Message]
) -> tuple[list[Message], int]:
    """:func:`_exchange`, and how many of ``incoming`` the app never asked for."""
    queue = list(incoming)
    sent: list[Message] = []

    async def receive() -> Message:
        # Once the request is read, a server's receive() only ever reports the client leaving.
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app(scope, receive, send)
    return sent, len(queue)


@dataclass(frozen=True)
class Counted:
    answer: Answer
    unread: int  # body messages the app never asked for


async def _exchange_counting(
    app: AsgiResponder, scope: Message, incoming: Sequence[Message]
) -> Counted:
    sent, unread = await _exchange_leaving(app, scope, incoming)
    return Counted(_answer(sent), unread)


def _body_messages(body: bytes, chunks: int = 1) -> list[Message]:
    """``body`` as ``chunks`` ``http.request`` messages (``more_body`` on all but the last)."""
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    return [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)]  # fmt: skip


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.encode():
                return value.decode("latin-1")
        return None


def _answer(sent: list[Message]) -> Answer:
    """The response in ``sent``, held to the ASGI framing: one start, then the body, finished."""
    assert sent, "the app sent nothing"
    assert sent[0]["type"] == "http.response.start", sent
    assert all(m["type"] == "http.response.body" for m in sent[1:]), sent
    assert len(sent) >= 2 and not sent[-1].get("more_body", False), "response never finished"
    headers = sent[0].get("headers", [])
    assert all(isinstance(n, bytes) and n == n.lower() and isinstance(v, bytes)
               for n, v in headers)  # fmt: skip
    return Answer(sent[0]["status"], list(headers), b"".join(m.get("body", b"") for m in sent[1:]))


def _call(app: AsgiResponder, method: str, raw_path: bytes | str = b"/", body: bytes = b"", *,
          headers: Sequence[tuple[bytes, bytes]] | None = None, chunks: int = 1,
          client: tuple[str, int] | None = ("127.0.0.1", 50000)) -> Answer:  # fmt: skip
    """One request through the adapter. A POST gets its Content-Length unless ``headers``."""
    if isinstance(raw_path, str):
        raw_path = raw_path.encode("latin-1")
    if headers is None:
        headers = [(b"content-type", b"application/ocsp-request")]
        if method == "POST":
            headers.append((b"content-length", str(len(body)).encode()))
    scope = _scope(method, raw_path, headers, client)
    return _answer(asyncio.run(_exchange(app, scope, _body_messages(body, chunks))))


def _get_path(der: bytes) -> str:
    return "/" + quote(base64.b64encode(der).decode(), safe="")


def _is_ocsp(answer: Answer) -> bool:
    return answer.header("content-type") == OCSP_RESPONSE_TYPE


# ---- POST and GET -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_post_answers_as_the_pki_says(pki: PKI, name: str) -> None:
    app = AsgiResponder(_app(pki))
    answer = _call(app, "POST", "/", ocsp_request(pki, [name]))
    assert answer.status == 200
    assert answer.header("content-type") == OCSP_RESPONSE_TYPE
    assert answer.header("content-length") == str(len(answer.body))
    parsed = parse_response(answer.body, signer=pki["responder"].certificate)
    assert parsed.signature_valid
    assert [(s.cert_id, s.status) for s in parsed.singles] == [
        (cert_id_for(pki, name), EXPECTED[name])
    ]
    assert parsed.nonce is None


def test_post_of_several_cert_ids_answers_each(pki: PKI) -> None:
    answer = _call(AsgiResponder(_app(pki)), "POST", "/", ocsp_request(pki, NAMES))
    parsed = parse_response(answer.body, signer=pki["responder"].certificate)
    assert parsed.signature_valid
    assert [s.status for s in parsed.singles] == [EXPECTED[n] for n in NAMES]
    assert parsed.singles[1].reason == "key_compromise"
    assert parsed.singles[2].reason == "certificate_hold"


def test_request_log_names_the_client_and_the_answer(pki: PKI) -> None:
    flask_app = _app(pki)
    app = AsgiResponder(flask_app)
    _call(app, "POST", "/", ocsp_request(pki, ["revoked-leaf"]), client=("203.0.113.5", 1234))
    _call(app, "GET", _get_path(ocsp_request(pki, ["server"])), client=None)
    entries = lab_responder(flask_app).requests.entries()
    assert [(e.client, e.method, e.names) for e in entries] == [
        ("203.0.113.5", "POST", ("revoked-leaf",)),
        ("-", "GET", ("server",)),
    ]


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("names", [["server"], ["revoked-leaf"], NAMES])
def test_asgi_and_wsgi_answer_alike(pki: PKI, method: str, names: list[str]) -> None:
    # Two apps, so that neither answer is the other's pre-signed cache entry.
    der = ocsp_request(pki, names)
    asgi = _call(AsgiResponder(_app(pki)), method, _get_path(der) if method == "GET" else "/", der)
    client = _app(pki).test_client()
    if method == "GET":
        wsgi = client.get("http://localhost" + _get_path(der))
    else:
        wsgi = client.post("/", data=der, content_type="application/ocsp-request")
    assert (asgi.status, asgi.header("content-type")) == (wsgi.status_code, wsgi.content_type)
    assert asgi.body == wsgi.data
    assert asgi.header("etag") == wsgi.headers.get("ETag")
    assert asgi.header("cache-control") == wsgi.headers.get("Cache-Control")


def test_body_in_several_chunks_is_read_whole(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    der = ocsp_request(pki, NAMES, nonce=b"c" * 32)
    whole = _call(app, "POST", "/", der)
    for chunks in (2, 5, len(der)):
        split = _call(app, "POST", "/", der, chunks=chunks)
        assert split.status == 200
        assert split.body == whole.body  # a nonce answer: only whole bytes would match
        parsed = parse_response(split.body)
        assert parsed.nonce == b"c" * 32
        assert [s.status for s in parsed.singles] == [EXPECTED[n] for n in NAMES]
    # An empty last chunk (a server that reports the end separately) changes nothing.
    scope = _scope("POST", b"/", [(b"content-length", str(len(der)).encode())])
    incoming = [
        {"type": "http.request", "body": der[:10], "more_body": True},
        {"type": "http.request", "body": der[10:], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]
    assert _answer(asyncio.run(_exchange(app, scope, incoming))).body == whole.body


def test_post_with_nonce_echoes_it(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    for nonce in (b"\x01" * 32, b"\xfe" * 16):
        answer = _call(app, "POST", "/", ocsp_request(pki, ["server"], nonce=nonce))
        parsed = parse_response(answer.body, signer=pki["responder"].certificate)
        assert answer.status == 200 and parsed.signature_valid
        assert parsed.nonce == nonce
        assert parsed.singles[0].status == "good"
        assert answer.header("etag") is None  # a nonce answer is nobody's to cache


def test_get_with_url_encoded_path_has_caching_headers_and_304(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    der = ocsp_request(pki, ["revoked-leaf"])
    assert "/" in base64.b64encode(der).decode()  # so that the path carries %2F
    raw_path = _get_path(der)
    assert "%2F" in raw_path
    answer = _call(app, "GET", raw_path)
    assert answer.status == 200 and _is_ocsp(answer)
    assert answer.header("content-length") == str(len(answer.body))
    parsed = parse_response(answer.body, signer=pki["responder"].certificate)
    assert [s.status for s in parsed.singles] == ["revoked"]
    etag = answer.header("etag")
    assert etag is not None and re.fullmatch(r'"[0-9a-f]{40}"', etag)
    cache_control = answer.header("cache-control") or ""
    max_age = re.search(r"max-age=(\d+)", cache_control)
    assert max_age is not None and int(max_age.group(1)) > 0
    assert answer.header("expires") and answer.header("last-modified")

    for if_none_match in (etag, f'W/"nope", {etag}'):
        again = _call(app, "GET", raw_path, headers=[(b"if-none-match", if_none_match.encode())])
        assert again.status == 304 and again.body == b""
        assert again.header("etag") == etag and again.header("content-type") is None
    other = _call(app, "GET", raw_path, headers=[(b"if-none-match", b'"0000"')])
    assert other.status == 200 and other.body == answer.body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/", b"\x00"),
        ("POST", "/", b"not DER at all"),
        ("POST", "/", b"\x30\x03\x02\x01"),  # a SEQUENCE cut short
        ("GET", "/!!not-base64!!", b""),
        ("GET", "/", b""),
        ("GET", "/" + quote(base64.b64encode(b"\x30\x00").decode(), safe=""), b""),
    ],
)
def test_unreadable_request_is_an_unsigned_malformed_request(
    pki: PKI, method: str, path: str, body: bytes
) -> None:
    answer = _call(AsgiResponder(_app(pki)), method, path, body)
    assert answer.status == 200 and _is_ocsp(answer)
    assert parse_response(answer.body).status == "malformed_request"
    assert asn1_ocsp.OCSPResponse.load(answer.body)["response_bytes"].native is None  # unsigned


def test_truncated_request_is_malformed(pki: PKI) -> None:
    der = ocsp_request(pki, ["server"])
    answer = _call(AsgiResponder(_app(pki)), "POST", "/", der[:-5])
    assert answer.status == 200
    assert parse_response(answer.body).status == "malformed_request"


# ---- what goes to Flask ---------------------------------------------------------------------


def test_body_over_the_cap_is_413_and_at_the_cap_is_answered(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    over = _call(app, "POST", "/", b"\x30" * (MAX_REQUEST_BYTES + 1), chunks=4)
    assert over.status == 413 and not _is_ocsp(over)
    at_cap = _call(app, "POST", "/", b"\x30" * MAX_REQUEST_BYTES, chunks=4)
    assert at_cap.status == 200 and parse_response(at_cap.body).status == "malformed_request"


@pytest.mark.parametrize("length", [b"\xb9", b"\xb2\xb3", b"12a", b"-1"])
def test_content_length_not_ascii_digits_is_refused_never_an_exception(
    pki: PKI, length: bytes
) -> None:
    # Header bytes read as latin-1: str.isdigit() takes "¹" and "²³", which int() refuses.
    headers = [(b"content-length", length)]
    answer = _call(AsgiResponder(_app(pki)), "POST", "/", b"\x30", headers=headers)
    assert answer.status == 413


def test_chunked_body_over_the_cap_is_413_and_not_read_further(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    # 3 chunks of 40 KiB, no Content-Length: refused once the second makes it 80 KiB.
    messages = _body_messages(b"\x30" * (3 * 40 * 1024), 3)
    scope = _scope("POST", b"/", [(b"transfer-encoding", b"chunked")], ("127.0.0.1", 1))
    left = asyncio.run(_exchange_counting(app, scope, messages))
    assert left.answer.status == 413
    assert left.unread == 1  # the third chunk was never asked for


def test_admin_body_over_the_cap_is_413_before_flask(pki: PKI) -> None:
    body = b"{" + b" " * MAX_REQUEST_BYTES + b"}"
    answer = _call(AsgiResponder(_app(pki)), "PUT", f"{ADMIN_PREFIX}/faults", body,
                   headers=_json_headers(body))  # fmt: skip
    assert answer.status == 413


def test_post_without_content_length_is_never_5xx(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    for body in (b"", ocsp_request(pki, ["server"]), b"junk"):
        answer = _call(app, "POST", "/", body, headers=[], chunks=2)
        assert answer.status == 200 and _is_ocsp(answer)
        parse_response(answer.body)


def test_chunked_post_is_answered_like_one_with_content_length(pki: PKI) -> None:
    # What gunicorn hands over for "Transfer-Encoding: chunked": the de-chunked body.
    answer = _call(AsgiResponder(_app(pki)), "POST", "/", ocsp_request(pki, ["server"]),
                   headers=[(b"transfer-encoding", b"chunked")], chunks=3)  # fmt: skip
    assert answer.status == 200
    parsed = parse_response(answer.body)
    assert parsed.status == "successful" and parsed.singles[0].status == "good"


def _json_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


def test_admin_api_goes_through_the_flask_bridge(pki: PKI) -> None:
    flask_app = _app(pki)
    app = AsgiResponder(flask_app)
    state = _call(app, "GET", f"{ADMIN_PREFIX}/state")
    assert state.status == 200 and state.header("content-type") == "application/json"
    doc = json.loads(state.body)
    assert {c["name"]: c["status"] for c in doc["certificates"]}["server"] == "good"

    # A change through the bridge (JSON body) shows in the next OCSP answer.
    revoke = json.dumps({"name": "server", "reason": "keyCompromise"}).encode()
    changed = _call(app, "POST", f"{ADMIN_PREFIX}/revoke", revoke, headers=_json_headers(revoke))
    assert changed.status == 200 and json.loads(changed.body)["status"] == "revoked"
    answer = _call(app, "POST", "/", ocsp_request(pki, ["server"]))
    assert parse_response(answer.body).singles[0].status == "revoked"

    faults = json.dumps({"http_status": 503}).encode()
    put = _call(app, "PUT", f"{ADMIN_PREFIX}/faults", faults, headers=_json_headers(faults))
    assert put.status == 200 and lab_responder(flask_app).state.faults == Faults(http_status=503)


def test_admin_api_sees_the_client_address(pki: PKI) -> None:
    # No admin token: loopback only. The bridge must pass the scope's client on.
    app = AsgiResponder(_app(pki))
    assert _call(app, "GET", f"{ADMIN_PREFIX}/state", client=("192.0.2.7", 4000)).status == 403
    assert _call(app, "GET", f"{ADMIN_PREFIX}/state", client=("::1", 4000)).status == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", [f"{ADMIN_PREFIX}/no/such/thing", f"{ADMIN_PREFIX}/x/y",
                                  "/%7Eadmin/no/such"])  # fmt: skip
def test_unknown_admin_path_is_404(pki: PKI, method: str, path: str) -> None:
    answer = _call(AsgiResponder(_app(pki)), method, path, ocsp_request(pki, ["server"]))
    assert answer.status == 404 and not _is_ocsp(answer)


def test_other_methods_are_flask_405(pki: PKI) -> None:
    answer = _call(AsgiResponder(_app(pki)), "PUT", "/", b"x",
                   headers=[(b"content-length", b"1")])  # fmt: skip
    assert answer.status == 405


# ---- connection events ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    [
        [],  # the client left before sending a byte of the body
        [{"type": "http.request", "body": b"\x30\x10", "more_body": True}],  # left mid-body
    ],
    ids=["no-body", "mid-body"],
)
def test_client_disconnect_while_the_body_is_awaited(pki: PKI, incoming: list[Message]) -> None:
    flask_app = _app(pki)
    scope = _scope("POST", b"/", [(b"content-length", b"100")])
    sent = asyncio.run(_exchange(AsgiResponder(flask_app), scope, incoming))  # no exception
    assert sent == []  # nobody to answer
    assert lab_responder(flask_app).requests.entries() == []  # and nothing answered


def test_lifespan_startup_and_shutdown() -> None:
    app = AsgiResponder(_app(build_pki(demo_spec())))
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = asyncio.run(asyncio.wait_for(_exchange(app, {"type": "lifespan"}, incoming), 5))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_websocket_scope_is_left_alone(pki: PKI) -> None:
    app = AsgiResponder(_app(pki))
    sent = asyncio.run(_exchange(app, {"type": "websocket", "path": "/"}, []))
    assert sent == []


# ---- faults ---------------------------------------------------------------------------------


def test_delay_fault_runs_off_the_event_loop(pki: PKI) -> None:
    delay = 0.3
    flask_app = _app(pki)
    lab_responder(flask_app).state.set_faults(Faults(delay=dt.timedelta(seconds=delay)))
    app = AsgiResponder(flask_app)
    nonces = [bytes([i + 1]) * 16 for i in range(4)]
    ders = [ocsp_request(pki, ["server"], nonce=n) for n in nonces]

    async def all_at_once() -> list[list[Message]]:
        scopes = [_scope("POST", b"/", [(b"content-length", str(len(d)).encode())]) for d in ders]
        return await asyncio.gather(
            *(_exchange(app, s, _body_messages(d)) for s, d in zip(scopes, ders, strict=True))
        )

    started = time.perf_counter()
    results = asyncio.run(all_at_once())
    elapsed = time.perf_counter() - started
    for sent, nonce in zip(results, nonces, strict=True):
        answer = _answer(sent)
        parsed = parse_response(answer.body)
        assert answer.status == 200 and parsed.singles[0].status == "good"
        assert parsed.nonce == nonce
    # Each request waited the delay; run in the event loop they would take 4 × delay.
    assert delay <= elapsed < 2 * delay, elapsed


def test_down_fault_starts_the_response_and_never_finishes_it(pki: PKI) -> None:
    flask_app = _app(pki)
    lab_responder(flask_app).state.set_faults(Faults(down=True))
    der = ocsp_request(pki, ["server"])
    scope = _scope("POST", b"/", [(b"content-length", str(len(der)).encode())])
    sent = asyncio.run(_exchange(AsgiResponder(flask_app), scope, _body_messages(der)))
    # A start and no body: gunicorn holds the status line and headers back until the
    # first body message, and closes a connection whose response the app left
    # unfinished — the client sees it end without a byte, as from a responder gone
    # down (the other workers keep the listening socket, so it cannot be closed).
    assert [m["type"] for m in sent] == ["http.response.start"]
    # and the request log says so, not "successful"
    assert [e.answer for e in lab_responder(flask_app).requests.entries()] == ["dropped"]


def test_http_status_fault_is_that_status_and_no_body(pki: PKI) -> None:
    flask_app = _app(pki)
    lab_responder(flask_app).state.set_faults(Faults(http_status=503))
    answer = _call(AsgiResponder(flask_app), "POST", "/", ocsp_request(pki, ["server"]))
    assert answer.status == 503 and answer.body == b""
    assert answer.header("content-length") == "0"


@pytest.mark.parametrize(
    "faults", [Faults(), Faults(delay=dt.timedelta(0))], ids=["in-the-loop", "in-a-thread"]
)
def test_exception_in_the_source_is_internal_error_never_500(
    pki: PKI, monkeypatch: pytest.MonkeyPatch, faults: Faults
) -> None:
    flask_app = _app(pki)
    responder = lab_responder(flask_app)
    responder.state.set_faults(faults)

    def explode(der: bytes) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(responder.source, "respond", explode)
    app = AsgiResponder(flask_app)
    for method, path, body in [("POST", "/", ocsp_request(pki, ["server"], nonce=b"z" * 16)),
                               ("GET", _get_path(ocsp_request(pki, ["server"])), b"")]:  # fmt: skip
        answer = _call(app, method, path, body)
        assert answer.status == 200 and _is_ocsp(answer)
        assert parse_response(answer.body).status == "internal_error"


def test_unreadable_live_state_is_internal_error_never_500(pki: PKI, tmp_path: Path) -> None:
    app = AsgiResponder(_app(pki, state_dir=tmp_path))
    assert _call(app, "POST", "/", ocsp_request(pki, ["server"])).status == 200
    with contextlib.closing(sqlite3.connect(tmp_path / STATE_DB)) as other:
        other.execute("DROP TABLE meta")  # another process spoils the live state
        other.commit()
    answer = _call(app, "POST", "/", ocsp_request(pki, ["server"]))
    assert answer.status == 200
    assert parse_response(answer.body).status == "internal_error"


def test_get_in_absolute_form_is_answered(pki: PKI) -> None:
    # GET http://host/<base64> HTTP/1.1 (RFC 9112 3.2.2), as through a proxy: gunicorn's
    # asyncio worker puts the target, up to '?', in both raw_path and path.
    target = "http://127.0.0.1:8080" + _get_path(ocsp_request(pki, ["server"]))
    scope = _scope("GET", target.encode())
    scope["path"] = target
    answer = _answer(asyncio.run(_exchange(AsgiResponder(_app(pki)), scope, _body_messages(b""))))
    assert answer.status == 200
    assert parse_response(answer.body).singles[0].status == "good"


# ---- never a 5xx ----------------------------------------------------------------------------

_settings = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
_PCHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%"
_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)
_APPS: dict[int, AsgiResponder] = {}


def _shared(pki: PKI) -> AsgiResponder:
    if id(pki) not in _APPS:
        _APPS[id(pki)] = AsgiResponder(_app(pki))
    return _APPS[id(pki)]


def _valid_requests(pki: PKI) -> list[bytes]:
    return [ocsp_request(pki, names, nonce=nonce, algorithm=algorithm)
            for names in (["server"], NAMES, ["root", "intermediate"])
            for nonce in (None, b"\x07" * 20)
            for algorithm in ("sha1", "sha256")]  # fmt: skip


@_settings
@given(data=st.data())
def test_any_request_is_never_5xx(pki: PKI, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(["GET", "POST", "HEAD"]), "method")
    prefix = data.draw(st.sampled_from(["/", "//", f"{ADMIN_PREFIX}/", "/%7E"]), "prefix")
    raw_path = prefix + data.draw(st.text(_PCHARS, max_size=120), "path")
    body = data.draw(st.one_of(st.binary(max_size=2048),
                               st.sampled_from(_valid_requests(pki))), "body")  # fmt: skip
    headers: list[tuple[bytes, bytes]] = []
    length = data.draw(st.one_of(st.none(), st.just(str(len(body))),
                                 st.integers(-3, 2 * MAX_REQUEST_BYTES).map(str),
                                 _HEADER_TEXT), "content-length")  # fmt: skip
    if length is not None:
        headers.append((b"content-length", length.encode("latin-1")))
    if_none_match = data.draw(st.one_of(st.none(), _HEADER_TEXT), "if-none-match")
    if if_none_match is not None:
        headers.append((b"if-none-match", if_none_match.encode("latin-1")))
    chunks = data.draw(st.integers(1, 4), "chunks")

    answer = _call(_shared(pki), method, raw_path, body, headers=headers, chunks=chunks)
    assert 200 <= answer.status < 500
    if answer.header("content-length") is not None and method != "HEAD":
        assert answer.header("content-length") == str(len(answer.body))
    path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    if answer.status == 200 and method != "HEAD" and not path.startswith(ADMIN_PREFIX):
        assert _is_ocsp(answer)
        parse_response(answer.body)  # strict DER: raises if it is no OCSPResponse


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_asgi_answers_any_post_or_get_as_wsgi_does(pki: PKI, data: st.DataObject) -> None:
    body = data.draw(st.one_of(st.binary(min_size=1, max_size=1024),
                               st.sampled_from(_valid_requests(pki))), "body")  # fmt: skip
    method = data.draw(st.sampled_from(["GET", "POST"]), "method")
    path = _get_path(body) if method == "GET" else "/"
    asgi = _call(AsgiResponder(_app(pki)), method, path, body)
    client = _app(pki).test_client()
    if method == "GET":
        wsgi = client.get("http://localhost" + path)
    else:
        wsgi = client.post("/", data=body, content_type="application/ocsp-request")
    assert asgi.status == wsgi.status_code
    assert asgi.header("content-type") == wsgi.content_type
    assert asgi.body == wsgi.data


def test_body_announced_but_never_finished_is_408(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import responder.asgi as adapter

    monkeypatch.setattr(adapter, "BODY_TIMEOUT_S", 0.05)
    sent: list[Message] = []
    first = [{"type": "http.request", "body": b"\x30\x10", "more_body": True}]

    async def receive() -> Message:
        if first:
            return first.pop()
        await asyncio.sleep(3600)  # the client stops sending, and stays connected
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = _scope("POST", b"/", [(b"content-length", b"100")])
    asyncio.run(asyncio.wait_for(AsgiResponder(_app(pki))(scope, receive, send), 5))
    assert _answer(sent).status == 408
