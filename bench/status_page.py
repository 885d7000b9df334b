"""The classroom page: from a request answered to its row on an open page (issue 15).

``ocsp-lab serve`` (2 asgi workers) serves ``scenarios/basics/good.toml``; a
thread keeps 50 OCSP requests a second going about ``server`` (each logged,
judged and streamed like any other); every 0.4 s a probe asks about
``intermediate``, and its answer time is noted when the response has been
read. The page is open in a headless Chromium; a MutationObserver notes
when each row about ``intermediate`` is added. Latency = row added − answer
read, on one machine's clock (both are wall-clock milliseconds).

Goal: under 500 ms with 50 requests a second going on.
"""

from __future__ import annotations

import http.client
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from cryptography import x509

from bench.report import Figure
from lab.ocsp_request import build_request
from tests.browser import chromium, serving

__all__ = ["run"]

SECTION = "status page"
SCENARIO = Path(__file__).parent.parent / "scenarios" / "basics" / "good.toml"
LOAD_RPS = 50
PROBES = 20
PROBE_EVERY_S = 0.4

_OBSERVE = """
window.rowsSeen = [];
new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.classList && node.classList.contains("story")
        && node.textContent.includes("about intermediate")) window.rowsSeen.push(Date.now());
  }
}).observe(document.getElementById("requests"), { childList: true });
"""


def _post(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request("POST", "/", body, {"Content-Type": "application/ocsp-request"})
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise RuntimeError(f"OCSP POST answered HTTP {answer.status}")


def _load(port: int, body: bytes, stop: threading.Event, sent: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    next_at = time.monotonic()
    while not stop.is_set():
        _post(conn, body)
        sent[0] += 1
        next_at += 1 / LOAD_RPS
        time.sleep(max(0.0, next_at - time.monotonic()))
    conn.close()


def run() -> list[Figure]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        return [Figure(SECTION, "row latency", "not measured", "< 500 ms",
                       "chromium and chromedriver are not installed")]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ocsp-lab-bench-page-") as tmp:
        out = Path(tmp) / "serve"
        with serving(SCENARIO, out) as url:
            port = int(url.rsplit(":", 1)[1])

            def cert(name: str) -> x509.Certificate:
                return x509.load_pem_x509_certificate((out / f"{name}.pem").read_bytes())

            load_body = build_request(cert("server"), cert("intermediate")).der
            probe_body = build_request(cert("intermediate"), cert("root")).der
            with chromium(browser, driver) as page:
                page.get(f"{url}/~admin/")
                time.sleep(1.0)  # the stream is open
                page.execute_script(_OBSERVE)
                stop = threading.Event()
                sent = [0]
                loader = threading.Thread(target=_load, args=(port, load_body, stop, sent))
                loader.start()
                answered: list[float] = []
                started = time.monotonic()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    time.sleep(1.0)  # the load is going
                    for _ in range(PROBES):
                        _post(conn, probe_body)
                        answered.append(time.time() * 1000)
                        time.sleep(PROBE_EVERY_S)
                    time.sleep(1.0)
                    conn.close()
                finally:
                    stop.set()
                    loader.join(timeout=10)
                rate = sent[0] / (time.monotonic() - started)
                seen = list(page.execute_script("return window.rowsSeen"))
    if len(seen) < PROBES:
        return [Figure(SECTION, "row latency", f"{len(seen)} of {PROBES} rows seen", "< 500 ms",
                       "rows were lost under load")]  # fmt: skip
    latencies = sorted(s - a for s, a in zip(seen, answered, strict=False))
    note = (
        f"{PROBES} probes, {rate:.0f} requests/s of load, 2 asgi workers, headless Chromium; "
        "answer read → row added (MutationObserver)"
    )
    return [
        Figure(SECTION, "row latency, median", f"{statistics.median(latencies):.0f} ms",
               "< 500 ms", note),
        Figure(SECTION, "row latency, worst", f"{latencies[-1]:.0f} ms", "< 500 ms", ""),
    ]  # fmt: skip
