"""The status page's TLS section and CSR upload in a headless Chromium, against ``serve --tls``.

Independent peers judge what the page shows: the TLS rows are made by real
handshakes (:func:`lab.tls.tls_connect`, completing and refusing with alert
44), and the certificate the page hands back for an ``openssl req`` CSR is
checked by ``openssl verify`` against the served chain and asked about with
``openssl ocsp`` (``good``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lab.tls import Alert, HandshakeOutcome, tls_connect
from tests.browser import chromium, free_port, overflowing_at_1024_and_150_percent, serving
from tests.conftest import require_program
from tests.peers import openssl_ocsp_client

pytestmark = pytest.mark.interop

SCENARIO = """title = "A good server certificate, stapled over TLS"
[tls]
staple = true
"""
WAIT_S = 8.0


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    directory = tmp_path_factory.mktemp("status-tls-csr")
    scenario = directory / "stapled.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = directory / "serve"
    tls = free_port()
    with serving(scenario, out, extra=("--tls", str(tls))) as url:
        yield url, out, tls


@pytest.fixture(scope="module")
def page(lab: tuple[str, Path, int]) -> Iterator[Any]:
    browser, driver = require_program("chromium"), require_program("chromedriver")
    with chromium(browser, driver) as session:
        session.get(f"{lab[0]}/~admin/")
        _until(session, lambda s: "server-sent" in s.find_element("id", "live").text, "live")
        yield session


def _until(page: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(page, WAIT_S, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"within {WAIT_S:g} s: {what}") from None


def _openssl(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout + done.stderr


def _csr(directory: Path, cn: str) -> Path:
    csr = directory / f"{cn}.csr"
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/O=Product/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
        "-keyout", str(directory / f"{cn}.key"), "-out", str(csr), cwd=directory,
    )  # fmt: skip
    assert csr.exists()
    return csr


def _upload(page: Any, csr: Path, profile: str = "server") -> Any:
    from selenium.webdriver.support.ui import Select

    page.execute_script("document.getElementById('csr-result').replaceChildren()")
    page.find_element("id", "csr-file").send_keys(str(csr))
    Select(page.find_element("id", "csr-issuer")).select_by_value("intermediate")
    Select(page.find_element("id", "csr-profile")).select_by_value(profile)
    page.find_element("id", "csr-sign").click()
    return _until(
        page,
        lambda s: (
            s.find_element("id", "csr-result")
            if s.find_element("id", "csr-result").text not in ("", "signing…")
            else None
        ),
        "the CSR's answer on the page",
    )


def test_the_tls_section_shows_what_each_peer_did(page: Any, lab: tuple[str, Path, int]) -> None:
    tls = lab[2]
    page.execute_script("window.notReloaded = true")
    completed = tls_connect("127.0.0.1", tls)
    refused = tls_connect("127.0.0.1", tls, decide=lambda chain, staple: Alert.CERTIFICATE_REVOKED)
    assert completed.record.outcome is HandshakeOutcome.COMPLETED
    assert refused.record.outcome is HandshakeOutcome.LOCAL_ALERT  # the client's side of it
    rows = _until(
        page, lambda s: (r if len(r := s.find_elements("css selector", ".conn")) >= 2 else None),
        "two TLS rows on the open page",
    )  # fmt: skip
    assert page.execute_script("return window.notReloaded") is True
    newest, older = rows[0].text, rows[1].text  # newest first
    assert "the peer refused: alert 44 certificate_revoked — it found the certificate revoked" in (
        newest
    )
    assert "conn-refused" in (rows[0].get_attribute("class") or "")
    assert "the peer accepted the certificate: the handshake completed (TLSv1.3)" in older
    for text in (newest, older):
        assert "the endpoint presented server" in text and "stapled an OCSP answer" in text
    # The first handshake made the endpoint fetch its staple: that request sits with it,
    # linked to its row in the requests section, which says which connection it served.
    caused = rows[1].find_element("css selector", ".caused")
    _until(page, lambda s: "OCSP requests while it lasted" in caused.text, "the staple's request")
    assert "server: good" in caused.text
    target = caused.find_element("tag name", "a").get_attribute("href").rsplit("#", 1)[1]
    story = page.find_element("id", target)
    assert "during the TLS connection from 127.0.0.1:" in story.text
    assert "no OCSP request reached the responder" in rows[0].text  # the staple was cached


def test_a_csr_uploaded_on_the_page_gives_a_certificate_openssl_accepts(
    page: Any, lab: tuple[str, Path, int], tmp_path: Path
) -> None:
    url, out, _ = lab
    result = _upload(page, _csr(tmp_path, "cucm.example.test"))
    assert "✔ Signed by intermediate as cucm.example.test" in result.text, result.text
    pem = page.find_element("id", "csr-pem").text
    cert = x509.load_pem_x509_certificate(pem.encode())
    leaf = tmp_path / "cucm.pem"
    leaf.write_bytes(cert.public_bytes(Encoding.PEM))
    link = page.find_element("id", "csr-download")
    assert link.get_attribute("download") == "cucm.example.test.pem"
    assert (link.get_attribute("href") or "").startswith("blob:")
    verify = _openssl(
        "verify", "-CAfile", str(out / "root.pem"), "-untrusted", str(out / "intermediate.pem"),
        str(leaf), cwd=tmp_path,
    )  # fmt: skip
    assert verify.strip() == f"{leaf}: OK", verify
    answer = openssl_ocsp_client(
        ["-issuer", str(out / "intermediate.pem"), "-cert", str(leaf), "-url", f"{url}/",
         "-CAfile", str(out / "root.pem"), "-verify_other", str(out / "intermediate.pem")],
        cwd=tmp_path,
    )  # fmt: skip
    assert answer.statuses.get(str(leaf)) == "good", answer.output
    assert answer.verified, answer.output
    # The new certificate is in the PKI tree, good, with its controls, without a reload.
    row = _until(
        page, lambda s: s.find_elements("id", "cert-cucm.example.test"), "the tree's new row"
    )[0]
    assert "✔ good" in row.text and "signed here from a product's CSR" in row.text


def test_a_csr_that_does_not_verify_is_refused_on_the_page(
    page: Any, lab: tuple[str, Path, int], tmp_path: Path
) -> None:
    good = _csr(tmp_path, "evil.example.test")
    der = bytearray(x509.load_pem_x509_csr(good.read_bytes()).public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the signature's last octet: still DER, never verifies
    bad = tmp_path / "bad.der"
    bad.write_bytes(bytes(der))
    result = _upload(page, bad)
    assert result.text.startswith("✖ Refused: the CSR's signature does not verify"), result.text
    assert page.find_elements("id", "csr-pem") == []
    assert page.find_elements("id", "cert-evil.example.test") == []


def test_the_new_sections_fit_1024x768_and_150_percent(page: Any) -> None:
    assert page.execute_script("return document.documentElement.clientWidth") == 1024
    assert overflowing_at_1024_and_150_percent(page) == ([], [])


def test_no_console_errors_but_the_refused_csr(page: Any) -> None:
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert [e for e in errors if "/sign" not in e["message"] or "400" not in e["message"]] == []
