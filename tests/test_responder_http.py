"""The HTTP protocol: POST and GET, caching headers, pre-signed answers, never a 5xx."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any
from urllib.parse import quote

import pytest
from asn1crypto import core
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import OCSPExtensionOID
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki import EPOCH, PKI, build_pki
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.config import CertsIncluded, NotFound, ResponderConfig, ResponderIdKind
from responder.protocol import MAX_REQUEST_BYTES, NonceForm, decode_get_path
from responder.signing import responder_key_hash
from responder.testing import cert_id_for, demo_spec, ocsp_request, parse_response

OCSP = {"Content-Type": "application/ocsp-request"}
_NONCE_OID = OCSPExtensionOID.NONCE.dotted_string
NOW = EPOCH + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _app(pki: PKI, **config: object) -> tuple[Flask, FixedClock]:
    clock = FixedClock(NOW)
    return create_app(pki, config=ResponderConfig(**config), clock=clock), clock  # type: ignore[arg-type]


@pytest.fixture
def client(pki: PKI) -> FlaskClient:
    return _app(pki)[0].test_client()


def _get_path(der: bytes) -> str:
    return "/" + quote(base64.b64encode(der).decode(), safe="")


def test_post_answers_every_status_with_one_single_response_each(
    pki: PKI, client: FlaskClient
) -> None:
    names = ["server", "revoked-leaf", "held-leaf", "unknown-leaf"]
    reply = client.post("/", data=ocsp_request(pki, names, nonce=b"n" * 32), headers=OCSP)
    assert reply.status_code == 200
    assert reply.content_type == "application/ocsp-response"
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.signature_valid
    assert [s.status for s in parsed.singles] == ["good", "revoked", "revoked", "unknown"]
    assert [s.cert_id for s in parsed.singles] == [cert_id_for(pki, n) for n in names]
    assert parsed.singles[1].reason == "key_compromise"
    assert parsed.singles[1].revoked_at == EPOCH - dt.timedelta(days=2)
    assert parsed.singles[2].reason == "certificate_hold"
    assert parsed.nonce == b"n" * 32
    spki = (
        pki["responder"]
        .certificate.public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert parsed.responder_key_hash == responder_key_hash(spki)
    assert parsed.singles[0].next_update == parsed.singles[0].this_update + dt.timedelta(days=1)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
def test_cert_id_hash_is_echoed(pki: PKI, client: FlaskClient, algorithm: str) -> None:
    reply = client.post("/", data=ocsp_request(pki, ["revoked-leaf"], algorithm=algorithm))
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.singles[0].cert_id == cert_id_for(pki, "revoked-leaf", algorithm)
    assert parsed.singles[0].status == "revoked"


def test_several_issuers_each_signer_authoritative_only(pki: PKI, client: FlaskClient) -> None:
    # intermediate's leaf first: signed by "responder"; root's child answered unknown.
    reply = client.post("/", data=ocsp_request(pki, ["server", "intermediate"]))
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.signature_valid
    assert [s.status for s in parsed.singles] == ["good", "unknown"]
    alone = parse_response(client.post("/", data=ocsp_request(pki, ["intermediate"])).data)
    assert alone.certs[0].subject == pki["root-responder"].certificate.subject
    assert alone.signature_valid and alone.singles[0].status == "good"


def test_responder_id_by_name_and_certs_chain(pki: PKI) -> None:
    app, _ = _app(
        pki, responder_id=ResponderIdKind.NAME, certs=CertsIncluded.CHAIN, next_update=None
    )
    parsed = parse_response(app.test_client().post("/", data=ocsp_request(pki, ["server"])).data)
    assert parsed.responder_name == pki["responder"].certificate.subject
    assert parsed.responder_key_hash is None
    assert [c.subject for c in parsed.certs] == [
        pki[n].certificate.subject for n in ("responder", "intermediate", "root")
    ]
    assert parsed.singles[0].next_update is None


def test_certs_none_omits_certificates(pki: PKI) -> None:
    app, _ = _app(pki, certs=CertsIncluded.NONE)
    der = app.test_client().post("/", data=ocsp_request(pki, ["server"])).data
    parsed = parse_response(der, signer=pki["responder"].certificate)
    assert parsed.certs == () and parsed.signature_valid


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(NotFound.UNKNOWN, "unknown"), (NotFound.GOOD, "good"), (NotFound.REVOKED, "revoked"),
     (NotFound.UNAUTHORIZED, "unauthorized")],
)  # fmt: skip
def test_not_found_policy(pki: PKI, policy: NotFound, expected: str) -> None:
    app, _ = _app(pki, not_found=policy)
    parsed = parse_response(
        app.test_client().post("/", data=ocsp_request(pki, ["unknown-leaf"])).data
    )
    if expected == "unauthorized":
        assert parsed.status == "unauthorized" and not parsed.singles
    else:
        assert parsed.singles[0].status == expected
    if expected == "revoked":  # RFC 6960 2.2: never issued = revoked since 1970, on hold
        assert parsed.singles[0].revoked_at == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        assert parsed.singles[0].reason == "certificate_hold"


@pytest.mark.parametrize("length", [0, 33, 64])
def test_nonce_outside_rfc8954_lengths_is_malformed(
    pki: PKI, client: FlaskClient, length: int
) -> None:
    reply = client.post("/", data=ocsp_request(pki, ["server"], nonce=b"x" * length))
    assert parse_response(reply.data).status == "malformed_request"


@pytest.mark.parametrize("length", [1, 16, 32])
def test_nonce_within_rfc8954_lengths_is_echoed(pki: PKI, client: FlaskClient, length: int) -> None:
    reply = client.post("/", data=ocsp_request(pki, ["server"], nonce=b"y" * length))
    assert parse_response(reply.data).nonce == b"y" * length


def _echoed_nonce_value(der: bytes) -> bytes:
    """The response's nonce extnValue contents, as asn1crypto reads them."""
    response = asn1_ocsp.OCSPResponse.load(der)
    tbs = response["response_bytes"]["response"].parsed["tbs_response_data"]
    # Each Extension read generically: asn1crypto's own spec would parse a nonce's value.
    extensions = [_AnyExtension.load(e.dump()) for e in tbs["response_extensions"]]
    values = [e["extn_value"].contents for e in extensions if e["extn_id"].dotted == _NONCE_OID]
    assert len(values) == 1
    return bytes(values[0])


class _AnyExtension(core.Sequence):  # type: ignore[misc]
    """RFC 5280 4.1 Extension, extnValue left as octets."""

    _fields = [  # noqa: RUF012 -- asn1crypto's declaration style
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


@pytest.mark.parametrize("nonce", [b"\xaa" * 16, b"r" * 32, b"\x01"])
def test_raw_nonce_is_answered_and_echoed_raw(pki: PKI, client: FlaskClient, nonce: bytes) -> None:
    # RFC 6960 4.4.1 before RFC 9654: extnValue holds the nonce itself (older clients,
    # Bouncy Castle's legacy mode). OpenSSL-based responders answer and echo it so.
    der = ocsp_request(pki, ["server"], nonce=nonce, nonce_form=NonceForm.RAW)
    reply = client.post("/", data=der)
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.status == "successful" and parsed.signature_valid
    assert _echoed_nonce_value(reply.data) == nonce  # the bytes themselves, no OCTET STRING
    wrapped = client.post("/", data=ocsp_request(pki, ["server"], nonce=nonce))
    assert _echoed_nonce_value(wrapped.data) == core.OctetString(nonce).dump()


def test_request_log_says_a_nonce_came_raw(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    app, _ = _app(pki)
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="responder.requests"):
        client.post("/", data=ocsp_request(pki, ["server"], nonce=b"n" * 20))
        raw = ocsp_request(pki, ["server"], nonce=b"n" * 20, nonce_form=NonceForm.RAW)
        client.post("/", data=raw)
    lines = [r.getMessage() for r in caplog.records if r.name == "responder.requests"]
    assert [" nonce=raw " in line for line in lines] == [False, True], lines
    assert [e.nonce for e in lab_responder(app).requests.entries()] == ["wrapped", "raw"]


@pytest.mark.parametrize("body", [b"", b"garbage", b"\x30\x03\x02\x01\x01", b"\x30" * 5000])
def test_unreadable_post_is_malformed_request_not_http_error(
    client: FlaskClient, body: bytes
) -> None:
    reply = client.post("/", data=body, headers=OCSP)
    assert reply.status_code == 200
    assert parse_response(reply.data).status == "malformed_request"


def test_body_over_cap_is_413(pki: PKI, client: FlaskClient) -> None:
    reply = client.post("/", data=b"\x00" * (MAX_REQUEST_BYTES + 1), headers=OCSP)
    assert reply.status_code == 413


def test_get_round_trip_with_caching_headers_and_304(pki: PKI, client: FlaskClient) -> None:
    der = ocsp_request(pki, ["revoked-leaf"])
    reply = client.get(_get_path(der))
    assert reply.status_code == 200
    parsed = parse_response(reply.data, signer=pki["responder"].certificate)
    assert parsed.singles[0].status == "revoked" and parsed.signature_valid
    assert reply.headers["Cache-Control"].startswith(f"max-age={24 * 3600}")
    assert "no-transform" in reply.headers["Cache-Control"]
    assert reply.headers["Expires"] == "Thu, 02 Jan 2025 01:00:00 GMT"
    assert reply.headers["Last-Modified"] == "Wed, 01 Jan 2025 01:00:00 GMT"
    etag = reply.headers["ETag"]
    again = client.get(_get_path(der), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(_get_path(der), headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.data == reply.data


@pytest.mark.parametrize(
    "mangle",
    [lambda b: b,  # raw base64 with '/' and '+' unescaped
     lambda b: quote(b, safe=""),
     lambda b: b.replace("+", " "),  # a proxy turned '+' into a space
     lambda b: "/" + quote(b, safe=""),  # leading slash: base URL ending in '/'
     lambda b: b.rstrip("=")],
    ids=["raw", "urlencoded", "plus-as-space", "double-slash", "unpadded"],
)  # fmt: skip
def test_get_path_tolerant_decoding(pki: PKI, mangle: object) -> None:
    # Find a request whose base64 has '+', '/' and '=' in it: vary the serial asked.
    for serial in range(1, 500):
        extra = cert_id_for(pki, "server")
        der = ocsp_request(pki, [], cert_ids=[type(extra)(extra.hash_algorithm,
            extra.issuer_name_hash, extra.issuer_key_hash, serial)])  # fmt: skip
        text = base64.b64encode(der).decode()
        if "+" in text and "/" in text and text.endswith("="):
            break
    assert decode_get_path("/" + mangle(text)) == der  # type: ignore[operator]


def test_get_served_through_flask_with_raw_slashes(pki: PKI, client: FlaskClient) -> None:
    for serial in range(1, 500):
        extra = cert_id_for(pki, "server")
        der = ocsp_request(pki, [], cert_ids=[type(extra)(extra.hash_algorithm,
            extra.issuer_name_hash, extra.issuer_key_hash, serial)])  # fmt: skip
        if "//" in base64.b64encode(der).decode():
            break
    reply = client.get("/" + base64.b64encode(der).decode())
    assert reply.status_code == 200
    assert parse_response(reply.data).singles[0].cert_id.serial == serial


def test_nonceless_answers_are_presigned_until_database_changes(pki: PKI) -> None:
    app, clock = _app(pki)
    client = app.test_client()
    responder = lab_responder(app)
    der = ocsp_request(pki, ["server"])
    first = client.post("/", data=der, headers=OCSP).data
    clock.advance(dt.timedelta(minutes=5))
    second = client.post("/", data=der, headers=OCSP).data
    assert first == second and responder.cache.hits == 1  # no new signature
    responder.state.revoke("server", clock(), "superseded")
    third = parse_response(client.post("/", data=der, headers=OCSP).data)
    assert third.singles[0].status == "revoked" and third.singles[0].reason == "superseded"
    with_nonce = [client.post("/", data=ocsp_request(pki, ["server"], nonce=bytes([i]) * 8)).data
                  for i in (1, 2)]  # fmt: skip
    assert with_nonce[0] != with_nonce[1]


def test_presigned_answer_refreshed_near_next_update(pki: PKI) -> None:
    app, clock = _app(pki)
    client = app.test_client()
    der = ocsp_request(pki, ["server"])
    first = parse_response(client.post("/", data=der).data)
    clock.advance(dt.timedelta(hours=19))  # past 3/4 of the 1-day window
    later = parse_response(client.post("/", data=der).data)
    assert later.singles[0].this_update == first.singles[0].this_update + dt.timedelta(hours=19)


def test_internal_error_becomes_internal_error_response(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = _app(pki)
    responder = lab_responder(app)

    def explode(der: bytes) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(responder.source, "respond", explode)
    reply = app.test_client().post("/", data=ocsp_request(pki, ["server"], nonce=b"z" * 16))
    assert reply.status_code == 200
    assert parse_response(reply.data).status == "internal_error"


_settings = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


_CONTENT_TYPES = ["application/ocsp-request", "text/plain", "", "application/x-www-form-urlencoded"]


@_settings
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(_CONTENT_TYPES))
def test_any_post_body_gets_ocsp_response(pki: PKI, body: bytes, content_type: str) -> None:
    client = _shared_client(pki)
    reply = client.post("/", data=body, headers={"Content-Type": content_type})
    assert reply.status_code == 200
    parse_response(reply.data)


@_settings
@given(path=st.text(max_size=300), header=st.text(max_size=100))
def test_any_get_path_never_5xx(pki: PKI, path: str, header: str) -> None:
    client = _shared_client(pki)
    safe_header = header.encode("latin-1", "replace").decode("latin-1").replace("\n", "")
    safe_header = safe_header.replace("\r", "")
    # Absolute URL: a path starting "//" would otherwise be read as a host by the test client.
    reply = client.get("http://localhost/" + quote(path), headers={"If-None-Match": safe_header})
    assert reply.status_code < 500
    if reply.status_code == 200:
        parse_response(reply.data)
    else:
        assert 300 <= reply.status_code < 500


@_settings
@given(der=st.builds(
    lambda names, nonce, algorithm: (names, nonce, algorithm),
    st.lists(st.sampled_from(["server", "revoked-leaf", "held-leaf", "unknown-leaf",
                              "intermediate", "root"]), min_size=1, max_size=5),
    st.one_of(st.none(), st.binary(min_size=1, max_size=32)),
    st.sampled_from(["sha1", "sha256", "sha384", "sha512"])))  # fmt: skip
def test_any_valid_request_gets_signed_answer_per_cert_id(
    pki: PKI, der: tuple[list[str], bytes | None, str]
) -> None:
    names, nonce, algorithm = der
    client = _shared_client(pki)
    reply = client.get(_get_path(ocsp_request(pki, names, nonce=nonce, algorithm=algorithm)))
    parsed = parse_response(reply.data)
    assert parsed.signature_valid
    assert [s.cert_id for s in parsed.singles] == [cert_id_for(pki, n, algorithm) for n in names]
    assert parsed.nonce == nonce


_CLIENTS: dict[int, FlaskClient] = {}


def _shared_client(pki: PKI) -> FlaskClient:
    if id(pki) not in _CLIENTS:
        _CLIENTS[id(pki)] = _app(pki)[0].test_client()
    return _CLIENTS[id(pki)]


def test_admin_prefix_cannot_be_base64() -> None:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_%")
    assert ADMIN_PREFIX.lstrip("/")[0] not in alphabet


def test_unknown_admin_path_is_404_never_an_ocsp_answer(pki: PKI, client: FlaskClient) -> None:
    der = ocsp_request(pki, ["server"])
    for path in (f"{ADMIN_PREFIX}/no/such/thing", f"{ADMIN_PREFIX}/x/y"):
        response = client.post(path, data=der, content_type="application/ocsp-request")
        assert response.status_code == 404
        assert response.content_type != "application/ocsp-response"


def _logged_request(
    pki: PKI, caplog: pytest.LogCaptureFixture, level: int
) -> tuple[list[str], tuple[object, ...], FixedClock]:
    """One POST and one GET at NOW with the request logger at ``level``; the clock moves on."""
    app, clock = _app(pki)
    client = app.test_client()
    with caplog.at_level(level, logger="responder.requests"):
        client.post("/", data=ocsp_request(pki, ["revoked-leaf"]), headers=OCSP)
        client.get("/" + quote(base64.b64encode(ocsp_request(pki, ["server"])).decode(), safe=""))
    clock.advance(dt.timedelta(hours=1))  # reading the log later must not re-date it
    entries = lab_responder(app).requests.entries()
    kept = tuple((e.at, e.method, e.serials, e.names, e.answer, e.cached) for e in entries)
    return [r.getMessage() for r in caplog.records if r.name == "responder.requests"], kept, clock


def test_each_request_writes_one_log_line(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    lines, _, _ = _logged_request(pki, caplog, logging.INFO)
    revoked = format(pki["revoked-leaf"].serial, "X")
    server = format(pki["server"].serial, "X")
    assert len(lines) == 2
    assert lines[0].startswith(f"127.0.0.1 POST serials={revoked} answer=revoked ")
    assert lines[1].startswith(f"127.0.0.1 GET serials={server} answer=good ")
    assert all(line.endswith("ms") for line in lines)


def test_request_log_is_the_same_whether_lines_are_written_or_not(
    pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    # Without INFO logging the entries are written out only when read: same contents,
    # dated when the request was answered, not when the log was read.
    lines_on, logged, _ = _logged_request(pki, caplog, logging.INFO)
    caplog.clear()
    lines_off, quiet, clock = _logged_request(pki, caplog, logging.WARNING)
    assert lines_off == [] and len(lines_on) == 2
    assert quiet == logged
    assert [entry[0] for entry in quiet] == [NOW, NOW] != [clock(), clock()]
    assert [entry[2:5] for entry in quiet] == [
        ((format(pki["revoked-leaf"].serial, "X"),), ("revoked-leaf",), "revoked"),
        ((format(pki["server"].serial, "X"),), ("server",), "good"),
    ]


def test_apps_are_built_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Werkzeug builds URL rules with the ast module, which CPython 3.11 cannot do in two
    threads at once (gh-106905: "AST constructor recursion depth mismatch", seen in
    ``run -j`` and product runs): ``create_app`` builds one app at a time."""
    import threading
    import time as time_module

    import responder.app as app_module

    building = 0
    most = 0
    guard = threading.Lock()
    real = app_module.Flask

    def counting(*args: Any, **kwargs: Any) -> Flask:
        nonlocal building, most
        with guard:
            building += 1
            most = max(most, building)
        time_module.sleep(0.05)  # long enough for the other threads to arrive
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                building -= 1

    monkeypatch.setattr(app_module, "Flask", counting)  # the app's construction, inside
    lab_pki = build_pki()
    threads = [threading.Thread(target=app_module.create_app, args=(lab_pki,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert most == 1
