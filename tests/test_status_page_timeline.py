"""The status page's Timeline section in a headless Chromium, against ``ocsp-lab serve``.

The served scenario revokes its server certificate a few seconds after the
lab starts and changes the faults an hour later: the open page says what
comes next and when, then marks the step done without a reload (the feed's
server-sent events), and the next line moves on to the step an hour away.
``openssl ocsp`` is the oracle that the step the page calls done was made:
the responder answers ``revoked``. The feed beneath it is tested in
``tests/test_serve_timeline_page.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, overflowing, serving
from tests.conftest import require_program
from tests.peers import openssl_ocsp_client

pytestmark = pytest.mark.interop

REVOKE_S = 5  # long enough for the page to load and show the step as next
SCENARIO = f"""title = "Revoked {REVOKE_S} seconds in, the nonce dropped an hour later"

[[step]]
at = "0"
connect = "server"
expect = {{ connection = "allowed" }}

[[step]]
at = "+{REVOKE_S}s"
revoke = "server"
reason = "keyCompromise"

[[step]]
at = "+1h"
faults = {{ nonce = "omit" }}
"""
WAIT_S = REVOKE_S + 8.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Chromium first: the timeline's clock starts with serve, and a browser is slow to start.
    binary, driver = require_program("chromium"), require_program("chromedriver")
    with chromium(binary, driver) as session:
        yield session


@pytest.fixture(scope="module")
def lab(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("status-timeline")
    scenario = directory / "timeline.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = directory / "serve"
    with serving(scenario, out) as url:
        yield url, out


@pytest.fixture(scope="module")
def page(browser: Any, lab: tuple[str, Path]) -> Any:
    browser.get(f"{lab[0]}/~admin/")
    _until(browser, lambda s: "server-sent" in s.find_element("id", "live").text, "live")
    return browser


def _until(page: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(page, WAIT_S, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"within {WAIT_S:g} s: {what}") from None


def _text(page: Any, element_id: str) -> str:
    return str(page.find_element("id", element_id).text)


def test_the_timeline_shows_the_next_step_then_marks_it_done(
    page: Any, lab: tuple[str, Path], tmp_path: Path
) -> None:
    page.execute_script("window.notReloaded = true")
    section = page.find_element("id", "timeline-section")
    assert section.is_displayed()
    next_line = _text(page, "timeline-next")
    assert re.fullmatch(
        r"next: step\[1\] at \+5s \(revoke server \(keyCompromise\)\) — in \d s "
        r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)",
        next_line,
    ), next_line
    assert re.fullmatch(r"Started at \S+ \S+Z \((now|\d+ s ago)\)", _text(page, "timeline-started"))
    first = page.find_element("id", "tl-step-0")
    assert first.get_attribute("data-state") == "product"
    assert "the product's part" in first.text and "(expected server: connection allowed)" in (
        first.text
    )
    revoke = page.find_element("id", "tl-step-1")
    assert revoke.get_attribute("data-state") == "pending" and "pending — in " in revoke.text
    assert "tl-next" in (revoke.get_attribute("class") or "")
    # Its due time comes: the step turns done on the open page, and the next line moves on.
    _until(page, lambda s: s.find_element("id", "tl-step-1").get_attribute("data-state") == "done",
           "step[1] marked done")  # fmt: skip
    assert page.execute_script("return window.notReloaded") is True
    revoke = page.find_element("id", "tl-step-1")
    assert re.search(r"✔ step\[1\] at \+5s .* · done (now|\d s ago)$", revoke.text), revoke.text
    next_line = _text(page, "timeline-next")
    assert re.match(r"next: step\[2\] at \+1h \(faults: .*\) — in (59 min|1 h) ", next_line), (
        next_line
    )
    # What the page calls done was made: an independent client is answered revoked.
    url, out = lab
    answer = openssl_ocsp_client(
        ["-issuer", str(out / "intermediate.pem"), "-cert", str(out / "server.pem"),
         "-url", f"{url}/", "-CAfile", str(out / "root.pem")],
        cwd=tmp_path,
    )  # fmt: skip
    assert answer.statuses.get(str(out / "server.pem")) == "revoked", answer.output


def test_the_timeline_fits_1024x768(page: Any) -> None:
    assert page.execute_script("return document.documentElement.clientWidth") == 1024
    assert overflowing(page) == []
    section = page.find_element("id", "timeline-section")
    assert section.rect["x"] >= 0 and section.rect["x"] + section.rect["width"] <= 1024
    assert page.execute_script(
        "const e = document.getElementById('timeline-steps'); return e.scrollWidth <= e.clientWidth"
    )


def test_no_console_errors(page: Any) -> None:
    errors = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
