"""The classroom page in a real headless Chromium, against ``ocsp-lab serve`` (two workers).

What the class sees is checked with an independent peer: every change made by
clicking the page is read back with ``openssl ocsp`` (its printed status and
reason), and every request ``openssl ocsp`` makes must appear on the open
page, without a reload, with what Unified CM would do with it.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.scenario import load_scenario
from tests.browser import chromium, overflowing_at_1024_and_150_percent, serving
from tests.conftest import require_program
from tests.peers import OpenSSLAnswer, openssl_ocsp_client

pytestmark = pytest.mark.interop

SCENARIO = Path(__file__).parent.parent / "scenarios" / "basics" / "good.toml"
WAIT_S = 8.0  # every wait is bounded; a live row comes within ~0.2 s


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    out = tmp_path_factory.mktemp("status-page") / "serve"
    with serving(SCENARIO, out) as url:
        (out / "trust.pem").write_bytes(
            (out / "root.pem").read_bytes() + (out / "intermediate.pem").read_bytes()
        )
        yield url, out


@pytest.fixture(scope="module")
def page(lab: tuple[str, Path]) -> Iterator[Any]:
    from selenium.webdriver.support.ui import WebDriverWait

    browser = require_program("chromium")
    driver = require_program("chromedriver")
    url, _ = lab
    with chromium(browser, driver) as session:
        session.get(f"{url}/~admin/")
        WebDriverWait(session, WAIT_S).until(
            lambda s: (
                "live" in s.find_element("id", "live").text
                and "server-sent" in s.find_element("id", "live").text
            )
        )
        yield session


def _ask(lab: tuple[str, Path]) -> OpenSSLAnswer:
    url, out = lab
    return openssl_ocsp_client(
        ["-issuer", "intermediate.pem", "-cert", "server.pem", "-url", f"{url}/",
         "-CAfile", "trust.pem"],
        cwd=out,
    )  # fmt: skip


def _until(page: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(page, WAIT_S, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"within {WAIT_S:g} s: {what}") from None


def _openssl_until(lab: tuple[str, Path], status: str, reason: str | None = None) -> None:
    """What openssl gets, until it is ``status`` (a change is committed before it is answered)."""
    answer = _ask(lab)
    assert answer.statuses.get("server.pem") == status, answer.output
    if reason is not None:
        assert answer.reasons == [reason], answer.output


def _server_row(page: Any) -> Any:
    return page.find_element("id", "cert-server")


def _click(page: Any, row: Any, css: str) -> None:
    """Click, and wait for the page's message: the change has been answered (committed)."""
    page.execute_script("document.getElementById('message').hidden = true")
    row.find_element("css selector", css).click()
    _until(page, lambda s: not s.find_element("id", "message").get_attribute("hidden"),
           f"a message after clicking {css}")  # fmt: skip


def test_page_shows_the_scenario_title_and_serves_an_icon(page: Any, lab: tuple[str, Path]) -> None:
    scenario = load_scenario(SCENARIO)
    assert page.find_element("id", "title").text == scenario.title
    assert "Delegated Trust" in page.find_element("id", "about").text
    assert scenario.title in page.title
    with urllib.request.urlopen(f"{lab[0]}/favicon.ico", timeout=5) as icon:
        assert icon.headers["Content-Type"] == "image/x-icon"
        assert icon.read(4) == b"\0\0\1\0"  # an ICO, not an OCSP malformedRequest
    # The PKI as a tree, with who signs for whom, in words.
    responder = page.find_element("id", "cert-responder").text
    assert "delegated responder" in responder and "intermediate" in responder
    assert "Trusted Responder" in page.find_element("id", "cert-trusted-responder").text


def test_a_request_appears_live_with_its_cc_on_and_off_verdicts(
    page: Any, lab: tuple[str, Path]
) -> None:
    page.execute_script("window.notReloaded = true")
    # By id, not by count: the page keeps its newest 60 rows, so a count can stop growing.
    before = {e.get_attribute("id") for e in page.find_elements("css selector", ".story")}

    def new_rows(s: Any) -> int:
        return len(
            {e.get_attribute("id") for e in s.find_elements("css selector", ".story")} - before
        )

    for _ in range(3):  # two workers: whichever answers, the row comes
        assert _ask(lab).statuses["server.pem"] == "good"
    _until(page, lambda s: new_rows(s) >= 3, "three new request rows on the open page")
    assert page.execute_script("return window.notReloaded") is True
    newest = page.find_elements("css selector", ".story")[0]
    text = newest.text
    assert "about server" in text and "good" in text
    assert "Common Criteria ON: ✔ allows the connection" in text
    assert "Common Criteria OFF: ✔ allows the connection" in text
    assert "signed by CN=responder" in text
    # Timestamps to the second, no microseconds: "2026-12-01 11:20:10Z".
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n", text), text
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", page.find_element("tag name", "body").text)
    # Clicking opens the step-by-step evidence.
    newest.find_element("tag name", "summary").click()
    steps = newest.find_element("css selector", ".steps").text
    assert "Delegated Trust Model" in steps and "signer pass" in steps


def test_a_selected_reason_survives_live_updates(page: Any, lab: tuple[str, Path]) -> None:
    from selenium.webdriver.support.ui import Select

    reason = Select(page.find_element("css selector", "#cert-intermediate select"))
    reason.select_by_value("affiliationChanged")
    before = len(page.find_elements("css selector", ".story"))
    _ask(lab)
    _until(page, lambda s: len(s.find_elements("css selector", ".story")) > before,
           "a live update")  # fmt: skip
    assert reason.first_selected_option.get_attribute("value") == "affiliationChanged"


def test_revoke_hold_release_forget_from_the_page_change_what_openssl_gets(
    page: Any, lab: tuple[str, Path]
) -> None:
    from selenium.webdriver.support.ui import Select

    row = _server_row(page)
    _click(page, row, ".act-hold")
    _openssl_until(lab, "revoked", "certificateHold")
    _click(page, row, ".act-release")
    _openssl_until(lab, "good")

    Select(row.find_element("tag name", "select")).select_by_value("keyCompromise")
    _click(page, row, ".act-revoke")
    _openssl_until(lab, "revoked", "keyCompromise")
    _until(page, lambda s: "revoked (keyCompromise)" in _server_row(s).text,
           "the page shows the revocation")  # fmt: skip

    # A refused change shows its message in the page (release takes a hold off, only).
    _click(page, row, ".act-release")
    message = page.find_element("id", "message")
    assert message.text.startswith("Refused: release server:"), message.text
    assert "error" in (message.get_attribute("class") or "")
    _openssl_until(lab, "revoked", "keyCompromise")

    _click(page, row, ".act-forget")
    _openssl_until(lab, "unknown")  # as for a certificate never issued
    _until(page, lambda s: "unknown" in _server_row(s).text, "the page shows it forgotten")


def test_a_fault_set_and_cleared_from_the_page_changes_what_openssl_gets(
    page: Any, lab: tuple[str, Path]
) -> None:
    from selenium.webdriver.support.ui import Select

    page.find_element("css selector", "#fault-controls summary").click()
    fault = page.find_element("id", "fault-answer")
    Select(fault.find_element("tag name", "select")).select_by_value("revoked")
    fault.find_element("css selector", "button.set").click()
    _until(page, lambda s: "In force" in s.find_element("id", "faults-now").text,
           "the fault in force, in words")  # fmt: skip
    assert "says revoked for every certificate" in page.find_element("id", "faults-now").text
    _openssl_until(lab, "revoked")
    page.find_element("css selector", "#faults-now button.clear").click()
    _until(page, lambda s: "No fault" in s.find_element("id", "faults-now").text,
           "the fault cleared")  # fmt: skip
    _openssl_until(lab, "unknown")  # what the database says again (forgotten above)


def test_under_gthread_the_page_polls_and_stays_live(tmp_path: Path, lab: tuple[str, Path]) -> None:
    """gunicorn's threaded worker holds no stream: the page falls back to polling."""
    out = tmp_path / "serve"
    with (
        serving(SCENARIO, out, workers=1, extra=("--worker", "gthread", "--threads", "4")) as url,
        chromium(require_program("chromium"), require_program("chromedriver")) as page,
    ):
        page.get(f"{url}/~admin/")
        _until(page, lambda s: "polling" in s.find_element("id", "live").text, "polling")
        (out / "trust.pem").write_bytes((out / "root.pem").read_bytes())
        _ask((url, out))
        _until(page, lambda s: s.find_elements("css selector", ".story"), "a row by polling")
        errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
        # The refused stream (503) is the one error a browser reports, and it is expected.
        assert all("/events" in e["message"] and "503" in e["message"] for e in errors), errors


def test_every_control_is_visible_at_1024x768_and_at_150_percent(page: Any) -> None:
    page.execute_script("document.getElementById('fault-controls').open = true")
    page.execute_script("for (const d of document.querySelectorAll('.story')) d.open = true")
    assert page.execute_script("return document.documentElement.clientWidth") == 1024
    assert overflowing_at_1024_and_150_percent(page) == ([], [])


def test_no_console_errors(page: Any) -> None:
    # Last in this module: every test above has used the page.
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    # A refused change is an HTTP error the page shows on purpose; nothing else may be.
    unexpected = [e for e in errors if "409" not in e["message"]]
    assert unexpected == []
