"""The admin API's guard: token, Host (DNS rebinding), Origin/Referer and CSRF, framing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pki import EPOCH, PKI, build_pki
from responder.admin_guard import CSRF_COOKIE, SESSION_COOKIE, check_admin_token, is_loopback
from responder.app import ADMIN_PREFIX, create_app
from responder.clock import FixedClock
from responder.testing import demo_spec

NOW = EPOCH + dt.timedelta(hours=1)
TOKEN = "k3ep-this-one-secret-please"


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


def _app(pki: PKI, **kwargs: object) -> Flask:
    return create_app(pki, clock=FixedClock(NOW), **kwargs)  # type: ignore[arg-type]


def _page_csrf(client: FlaskClient) -> str:
    """Load the page as a browser does: it hands out the CSRF cookie and puts it in forms."""
    page = client.get(f"{ADMIN_PREFIX}/")
    assert page.status_code == 200
    cookie = client.get_cookie(CSRF_COOKIE, path="/~admin")
    assert cookie is not None and f'value="{cookie.value}"' in page.text
    return cookie.value


@pytest.mark.parametrize(
    "token", ["", "short", "aaaaaaaaaaaaaaaaaaaaaaaa", "has spaces in it 12345"]
)
def test_weak_admin_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="admin token: expected"):
        check_admin_token(token)


def test_serve_refuses_an_empty_admin_token_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "serve", "--admin-token", "", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--admin-token" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "address, loopback",
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
     ("::ffff:192.0.2.1", False), ("192.0.2.1", False), ("", False), ("junk", False)],
)  # fmt: skip
def test_loopback_includes_ipv4_mapped(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_ipv4_mapped_loopback_client_reaches_the_admin(pki: PKI) -> None:
    client = _app(pki).test_client()
    reply = client.get(f"{ADMIN_PREFIX}/state", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"})
    assert reply.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "127.0.0.1.nip.io"])
def test_foreign_host_header_is_refused(pki: PKI, host: str) -> None:
    client = _app(pki).test_client()
    reply = client.get(f"{ADMIN_PREFIX}/state", headers={"Host": host})
    assert reply.status_code == 403 and "DNS rebinding" in reply.get_json()["error"]
    revoke = client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "server"}, headers={"Host": host})
    assert revoke.status_code == 403
    assert client.get(f"{ADMIN_PREFIX}/state").get_json()  # nothing changed
    assert _status_of(client, "server") == "good"


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1", "[::1]:8080", "LOCALHOST"])
def test_loopback_host_names_are_served(pki: PKI, host: str) -> None:
    client = _app(pki).test_client()
    assert client.get(f"{ADMIN_PREFIX}/state", headers={"Host": host}).status_code == 200


def test_configured_host_name_is_served(pki: PKI) -> None:
    client = _app(pki, admin_hosts=["lab.example:8080"]).test_client()
    assert client.get(f"{ADMIN_PREFIX}/state", headers={"Host": "lab.example"}).status_code == 200


def _status_of(client: FlaskClient, name: str) -> str:
    state = client.get(f"{ADMIN_PREFIX}/state").get_json()
    return next(c["status"] for c in state["certificates"] if c["name"] == name)


def test_form_post_from_another_origin_is_refused(pki: PKI) -> None:
    client = _app(pki).test_client()
    csrf = _page_csrf(client)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/attack.html"}):  # fmt: skip
        reply = client.post(
            f"{ADMIN_PREFIX}/revoke", data={"name": "server", "csrf": csrf}, headers=headers
        )
        assert reply.status_code == 403, headers
        assert "not this lab's page" in reply.get_json()["error"]
    assert _status_of(client, "server") == "good"


@pytest.mark.parametrize("multipart", [False, True])
def test_form_post_without_the_csrf_token_is_refused(pki: PKI, multipart: bool) -> None:
    client = _app(pki).test_client()
    _page_csrf(client)
    reply = client.post(
        f"{ADMIN_PREFIX}/revoke",
        data={"name": "server"},
        content_type="multipart/form-data" if multipart else None,
    )
    assert reply.status_code == 403 and "csrf" in reply.get_json()["error"]
    assert _status_of(client, "server") == "good"


def test_form_post_with_a_wrong_csrf_token_is_refused(pki: PKI) -> None:
    client = _app(pki).test_client()
    _page_csrf(client)
    reply = client.post(f"{ADMIN_PREFIX}/hold", data={"name": "server", "csrf": "guess"})
    assert reply.status_code == 403


def test_page_form_with_its_csrf_token_changes_the_state(pki: PKI) -> None:
    client = _app(pki).test_client()
    csrf = _page_csrf(client)
    reply = client.post(
        f"{ADMIN_PREFIX}/hold",
        data={"name": "server", "csrf": csrf},
        headers={"Origin": "http://localhost"},
    )
    assert reply.status_code == 303 and reply.headers["Location"].endswith(f"{ADMIN_PREFIX}/")
    assert _status_of(client, "server") == "hold"


def test_csrf_cookie_is_strict_and_httponly(pki: PKI) -> None:
    page = _app(pki).test_client().get(f"{ADMIN_PREFIX}/")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith(CSRF_COOKIE) and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_admin_answers_refuse_framing(pki: PKI) -> None:
    client = _app(pki).test_client()
    for path in ("/", "/state", "/faults", "/nothing-here"):
        reply = client.get(f"{ADMIN_PREFIX}{path}")
        assert reply.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"], path


def test_token_login_sets_a_session_cookie_and_keeps_the_token_out_of_urls(pki: PKI) -> None:
    client = _app(pki, admin_token=TOKEN).test_client()
    page = client.get(f"{ADMIN_PREFIX}/").text
    assert f"{ADMIN_PREFIX}/login" in page and TOKEN not in page
    csrf = _page_csrf(client)
    assert (
        client.post(f"{ADMIN_PREFIX}/hold", data={"name": "server", "csrf": csrf}).status_code
        == 401
    )
    wrong = client.post(
        f"{ADMIN_PREFIX}/login", data={"token": "not-the-token-at-all", "csrf": csrf}
    )
    assert wrong.status_code == 401
    assert client.post(f"{ADMIN_PREFIX}/login", data={"token": TOKEN}).status_code == 403  # no csrf
    login = client.post(f"{ADMIN_PREFIX}/login", data={"token": TOKEN, "csrf": csrf})
    assert login.status_code == 303 and login.headers["Location"] == f"{ADMIN_PREFIX}/"
    cookie = login.headers["Set-Cookie"]
    assert (
        cookie.startswith(SESSION_COOKIE) and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    )
    assert TOKEN not in cookie  # the cookie is an HMAC of the token, not the token
    page = client.get(f"{ADMIN_PREFIX}/").text
    assert "token=" not in page and f"{ADMIN_PREFIX}/login" not in page
    reply = client.post(f"{ADMIN_PREFIX}/hold", data={"name": "server", "csrf": csrf})
    assert reply.status_code == 303 and "token" not in reply.headers["Location"]
    assert _status_of(client, "server") == "hold"


def test_bearer_token_works_for_api_clients_without_csrf(pki: PKI) -> None:
    client = _app(pki, admin_token=TOKEN).test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    reply = client.post(f"{ADMIN_PREFIX}/revoke", data={"name": "server"}, headers=headers,
                        environ_base=remote)  # fmt: skip
    assert reply.status_code in (200, 303)
    wrong = {"Authorization": "Bearer wrong-token-wrong-token"}
    reply = client.post(
        f"{ADMIN_PREFIX}/revoke", json={"name": "server"}, environ_base=remote, headers=wrong
    )
    assert reply.status_code == 401


def test_admin_errors_are_json_naming_the_field(pki: PKI) -> None:
    client = _app(pki).test_client()
    reply = client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "nobody"})
    assert reply.status_code == 400 and reply.is_json
    assert reply.get_json()["error"].startswith("name: expected")
    reason = client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "server", "reason": "bored"})
    assert reason.status_code == 400 and reason.get_json()["error"].startswith("reason: expected")
    missing = client.get(f"{ADMIN_PREFIX}/no-such-thing")
    assert missing.status_code == 404 and missing.is_json


def test_get_faults_answers_the_active_faults(pki: PKI) -> None:
    client = _app(pki).test_client()
    assert client.get(f"{ADMIN_PREFIX}/faults").get_json() == {}
    assert client.put(f"{ADMIN_PREFIX}/faults", json={"nonce": "omit"}).status_code == 200
    assert client.get(f"{ADMIN_PREFIX}/faults").get_json() == {"nonce": "omit"}


_ADMIN_PATHS = st.sampled_from(
    ["/", "/state", "/requests", "/faults", "/faults/clear", "/revoke", "/hold", "/release",
     "/forget", "/login", "/x", "//", "/revoke/x", "/%00"]
)  # fmt: skip
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
_FAULT_KEYS = st.sampled_from(
    ["down", "delay", "http_status", "content_type", "body", "status", "answer", "signature",
     "this_update", "next_update", "nonce", "cert_id", "critical_extension", "responder_id", "x"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    path=_ADMIN_PATHS,
    body=st.one_of(
        st.binary(max_size=64).map(lambda b: ("raw", b)),
        _JSONISH.map(lambda d: ("json", d)),
        st.dictionaries(_FAULT_KEYS, _JSONISH, max_size=4).map(lambda d: ("json", d)),
        st.dictionaries(
            st.sampled_from(["name", "reason", "csrf", "token"]), st.text(max_size=24), max_size=3
        ).map(lambda d: ("form", d)),
    ),
    host=st.sampled_from(["localhost", "127.0.0.1:8080", "evil.example", "", "[::1]"]),
)
def test_no_admin_input_gives_a_5xx_or_a_traceback(
    method: str, path: str, body: tuple[str, object], host: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = _HYPOTHESIS_APP.test_client()
    kind, value = body
    kwargs: dict[str, object] = {"headers": {"Host": host} if host else {}}
    if kind == "json":
        kwargs["data"] = json.dumps(value)
        kwargs["content_type"] = "application/json"
    elif kind == "form":
        kwargs["data"] = value
    else:
        kwargs["data"] = value
    with caplog.at_level(logging.ERROR):
        reply = client.open(f"{ADMIN_PREFIX}{path}", method=method, **kwargs)  # type: ignore[arg-type]
    assert reply.status_code < 500, (reply.status_code, reply.data[:300])
    assert "Traceback" not in caplog.text
    client.delete(f"{ADMIN_PREFIX}/faults")  # the next example starts without faults


_HYPOTHESIS_APP = create_app(build_pki(demo_spec()), clock=FixedClock(NOW))
