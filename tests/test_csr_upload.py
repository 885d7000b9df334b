"""The status page's CSR upload (``POST /~admin/sign`` as a multipart form), without a browser.

Guarded like every admin form POST (token or loopback, Host, Origin, the
page's CSRF token); answered with the certificate (JSON for the page's
script, a PEM download otherwise); the certificate is then a row of the
page's PKI tree, status good. The browser's view is in
``tests/test_status_page_tls_csr.py``.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from lab.judge import answer_judge
from pki import EPOCH, PKI, build_pki
from pki.certid import CertID
from responder.admin_guard import CSRF_COOKIE
from responder.app import ADMIN_PREFIX, create_app, lab_responder
from responder.clock import FixedClock
from responder.live import feed
from responder.testing import demo_spec, ocsp_request, parse_response

NOW = EPOCH + dt.timedelta(hours=1)
TOKEN = "k3ep-this-one-secret-please"
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def pki() -> PKI:
    return build_pki(demo_spec())


@pytest.fixture(scope="module")
def csr() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cucm.example.test")]))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("cucm.example.test")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(Encoding.PEM)


def _tampered(pem: bytes) -> bytes:
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the signature's last octet: still DER, never verifies
    return bytes(der)


def _app(pki: PKI, directory: Path, **kwargs: Any) -> Flask:
    return create_app(pki, state_dir=directory, clock=FixedClock(NOW), **kwargs)


def _page_csrf(client: FlaskClient) -> str:
    page = client.get(f"{ADMIN_PREFIX}/")
    assert page.status_code == 200
    cookie = client.get_cookie(CSRF_COOKIE, path="/~admin")
    assert cookie is not None
    return cookie.value


def _form(csr: bytes, csrf: str | None, **fields: str) -> dict[str, Any]:
    form: dict[str, Any] = {"csr": (io.BytesIO(csr), "product.csr"), **fields}
    if csrf is not None:
        form["csrf"] = csrf
    return form


def _tree(client: FlaskClient) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in client.get(f"{ADMIN_PREFIX}/state").get_json()["certificates"]}


def test_the_page_has_the_form_with_its_csrf_token_and_the_cas(pki: PKI, tmp_path: Path) -> None:
    client = _app(pki, tmp_path).test_client()
    csrf = _page_csrf(client)
    page = client.get(f"{ADMIN_PREFIX}/").text
    form = page[page.index('<form id="csr-form"') : page.index("</form>", page.index("csr-form"))]
    assert 'enctype="multipart/form-data"' in form and f'action="{ADMIN_PREFIX}/sign"' in form
    assert f'name="csrf" value="{csrf}"' in form
    assert '<option value="intermediate"\n   selected>' in form
    assert '<option value="root"' in form and 'value="server"' in form  # a CA; a profile
    assert '<option value="responder"' not in form  # not a CA: it cannot sign


def test_the_form_signs_and_the_certificate_is_good_in_the_tree(
    pki: PKI, tmp_path: Path, csr: bytes
) -> None:
    client = _app(pki, tmp_path).test_client()
    csrf = _page_csrf(client)
    reply = client.post(
        f"{ADMIN_PREFIX}/sign",
        data=_form(csr, csrf, issuer="intermediate", profile="client"),
        headers={**JSON, "Origin": "http://localhost"},
    )
    assert reply.status_code == 201, reply.text
    doc = reply.get_json()
    assert doc["name"] == "cucm.example.test" and doc["status"] == "good"
    cert = x509.load_pem_x509_certificate(doc["pem"].encode())
    assert cert.issuer == pki["intermediate"].certificate.subject
    assert format(cert.serial_number, "X") == doc["serial"]
    row = _tree(client)["cucm.example.test"]
    assert row["status"] == "good" and row["issuer"] == "intermediate" and row["signed"]
    assert row["profile"] == "client" and row["depth"] == _tree(client)["server"]["depth"]
    # In the tree under its issuer: after intermediate, before the next CA's subtree.
    names = list(_tree(client))
    assert names.index("intermediate") < names.index("cucm.example.test")
    # Revoked by name from the page, like any lab certificate.
    revoked = client.post(f"{ADMIN_PREFIX}/revoke", json={"name": "cucm.example.test"})
    assert revoked.status_code == 200
    assert _tree(client)["cucm.example.test"]["status"] == "revoked"


def test_without_script_the_form_downloads_the_pem(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path).test_client()
    reply = client.post(f"{ADMIN_PREFIX}/sign", data=_form(csr, _page_csrf(client), name="phone-1"))
    assert reply.status_code == 201
    assert reply.headers["Content-Disposition"] == 'attachment; filename="phone-1.pem"'
    assert x509.load_pem_x509_certificate(reply.data).subject.rfc4514_string() == (
        "CN=cucm.example.test"
    )


def test_a_csr_whose_signature_does_not_verify_is_refused(
    pki: PKI, tmp_path: Path, csr: bytes
) -> None:
    client = _app(pki, tmp_path).test_client()
    reply = client.post(
        f"{ADMIN_PREFIX}/sign", data=_form(_tampered(csr), _page_csrf(client)), headers=JSON
    )
    assert reply.status_code == 400
    assert "signature does not verify" in reply.get_json()["error"]
    assert not any(row.get("signed") for row in _tree(client).values())


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"profile": "ca"}, "profile: expected one of server, client"),
        ({"issuer": "server"}, "expected a CA of the lab"),
        ({"name": "../etc"}, "name: expected letters"),
    ],
)
def test_a_bad_field_is_named(
    pki: PKI, tmp_path: Path, csr: bytes, fields: dict[str, str], expected: str
) -> None:
    client = _app(pki, tmp_path).test_client()
    reply = client.post(
        f"{ADMIN_PREFIX}/sign", data=_form(csr, _page_csrf(client), **fields), headers=JSON
    )
    assert reply.status_code == 400 and expected in reply.get_json()["error"]


def test_no_file_is_named(pki: PKI, tmp_path: Path) -> None:
    client = _app(pki, tmp_path).test_client()
    reply = client.post(
        f"{ADMIN_PREFIX}/sign",
        data={"csrf": _page_csrf(client), "issuer": "intermediate"},
        content_type="multipart/form-data",
        headers=JSON,
    )
    assert reply.status_code == 400 and reply.get_json()["error"].startswith("csr: expected")


def test_the_form_without_the_csrf_token_is_refused(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path).test_client()
    _page_csrf(client)
    for csrf in (None, "a-guess"):
        reply = client.post(f"{ADMIN_PREFIX}/sign", data=_form(csr, csrf), headers=JSON)
        assert reply.status_code == 403 and "csrf" in reply.get_json()["error"]
    assert not any(row.get("signed") for row in _tree(client).values())


def test_the_form_from_another_origin_is_refused(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path).test_client()
    csrf = _page_csrf(client)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Referer": "http://evil.example/attack.html"}):  # fmt: skip
        reply = client.post(f"{ADMIN_PREFIX}/sign", data=_form(csr, csrf), headers=headers)
        assert reply.status_code == 403 and "not this lab's page" in reply.get_json()["error"]
    foreign = client.post(
        f"{ADMIN_PREFIX}/sign", data=_form(csr, csrf), headers={"Host": "evil.example"}
    )
    assert foreign.status_code == 403 and "DNS rebinding" in foreign.get_json()["error"]
    assert not any(row.get("signed") for row in _tree(client).values())


def test_without_a_token_only_loopback_may_upload(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path).test_client()
    csrf = _page_csrf(client)
    reply = client.post(
        f"{ADMIN_PREFIX}/sign",
        data=_form(csr, csrf),
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert reply.status_code == 403 and "loopback only" in reply.get_json()["error"]


def test_with_a_token_the_upload_needs_it(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path, admin_token=TOKEN).test_client()
    csrf = _page_csrf(client)
    reply = client.post(f"{ADMIN_PREFIX}/sign", data=_form(csr, csrf), headers=JSON)
    assert reply.status_code == 401 and "admin token" in reply.get_json()["error"]
    login = client.post(f"{ADMIN_PREFIX}/login", data={"token": TOKEN, "csrf": csrf})
    assert login.status_code == 303
    reply = client.post(f"{ADMIN_PREFIX}/sign", data=_form(csr, csrf), headers=JSON)
    assert reply.status_code == 201, reply.text


def test_the_json_api_is_unchanged(pki: PKI, tmp_path: Path, csr: bytes) -> None:
    client = _app(pki, tmp_path).test_client()
    reply = client.post(f"{ADMIN_PREFIX}/sign", json={"csr": csr.decode(), "name": "api-one"})
    assert reply.status_code == 201 and reply.content_type == "application/x-pem-file"
    assert reply.headers["X-Ocsp-Lab-Name"] == "api-one"
    # Neither JSON nor the form (an API client: a Bearer header, so no CSRF field to carry).
    plain = client.post(
        f"{ADMIN_PREFIX}/sign",
        data=csr,
        content_type="text/plain",
        headers={"Authorization": "Bearer none-is-configured"},
    )
    assert plain.status_code == 415 and "multipart form" in plain.get_json()["error"]


def test_a_request_about_a_signed_certificate_is_told_by_its_name_and_judged(
    pki: PKI, tmp_path: Path, csr: bytes
) -> None:
    app = _app(pki, tmp_path, judge=answer_judge(pki))
    client = app.test_client()
    doc = client.post(
        f"{ADMIN_PREFIX}/sign", data=_form(csr, _page_csrf(client), name="phone"), headers=JSON
    ).get_json()
    cert = x509.load_pem_x509_certificate(doc["pem"].encode())
    cert_id = CertID.for_cert(cert, pki["intermediate"].certificate)
    answer = client.post("/", data=ocsp_request(pki, [], cert_ids=[cert_id]))
    assert parse_response(answer.data).singles[0].status == "good"
    (story,) = feed(lab_responder(app), 0)["requests"]
    assert story["asked"] == [{"serial": doc["serial"], "name": "phone"}]
    # Judged with its issuer found from the CertID: the delegated responder is trusted.
    judged = story["judged"]
    assert judged["status"] == "good" and judged["trusted_by"] == "dtm", judged
    assert judged["cc_on"]["decision"] == "allowed"
