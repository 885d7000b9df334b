"""A real headless Chromium (selenium) and ``ocsp-lab serve``, for the status page's tests.

Used by ``tests/test_status_page.py`` and ``make screenshots``
(``python -m tests.screenshots``). Chromium runs with a fresh profile and
nothing that talks to the network on its own (the lab has no internet).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["chromium", "free_port", "overflowing", "overflowing_at_1024_and_150_percent", "serving"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else b""
            raise RuntimeError(f"ocsp-lab serve exited early: {err.decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"ocsp-lab serve did not listen on port {port} within {timeout:g} s")


@contextmanager
def serving(
    scenario: Path, out: Path, workers: int = 2, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """``ocsp-lab serve SCENARIO`` on a free port (gunicorn, asgi workers); its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab", "serve", str(scenario), "--port", str(port),
         "--out", str(out), "--workers", str(workers), "--quiet", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_listening(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


@contextmanager
def chromium(browser: str, driver: str, width: int = 1024, height: int = 768) -> Iterator[Any]:
    """A headless Chromium driven by selenium, in a fresh profile, ``width``×``height``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="ocsp-lab-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        try:
            # The viewport itself, not the window: what a projector at width×height shows.
            session.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            yield session
        finally:
            session.quit()


def overflowing(page: Any) -> list[str]:
    """What sticks out of the viewport: a sideways scroll, controls past either edge."""
    return list(
        page.execute_script(
            """
            const width = document.documentElement.clientWidth;
            const out = [];
            if (document.documentElement.scrollWidth > width) out.push("page scrolls sideways");
            for (const e of document.querySelectorAll("button, select, input, summary")) {
              const box = e.getBoundingClientRect();
              if (box.width === 0 && box.height === 0) continue;  // inside a closed <details>
              if (box.left < 0 || box.right > width) out.push(e.outerHTML.slice(0, 80));
            }
            return out;
            """
        )
    )


def overflowing_at_1024_and_150_percent(page: Any) -> tuple[list[str], list[str]]:
    """:func:`overflowing` at 1024×768, then at 150 % zoom (a 683×512 CSS viewport)."""
    at_100 = overflowing(page)
    page.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 683, "height": 512, "deviceScaleFactor": 1.5, "mobile": False},
    )
    try:
        return at_100, overflowing(page)
    finally:
        page.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1024, "height": 768, "deviceScaleFactor": 1, "mobile": False},
        )
