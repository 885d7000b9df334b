"""``make screenshots``: the status page at 1024×768 and 1600×900, into docs/screenshots/.

Serves ``scenarios/stapling/stapled-revoked.toml`` with a TLS endpoint
(``serve --tls``: it staples the responder's revoked answer), makes two TLS
connections (a peer that refuses with alert 44 certificate_revoked, the
staple's fetch beside it; one that checks nothing and completes) and a few
requests with ``openssl ocsp`` so that the page has stories to tell, uploads
an ``openssl req`` CSR through the page's form, and
photographs it in a headless Chromium (the same set-up as
tests/test_status_page.py): the top of the page, and the TLS and CSR
sections scrolled into view.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.tls import Alert, tls_connect
from tests.browser import chromium, free_port, serving

ROOT = Path(__file__).parent.parent
OUT = ROOT / "docs" / "screenshots"
SIZES = ((1024, 768), (1600, 900))


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"screenshots: {name} is not installed (Debian: chromium chromium-driver)")
    return path


def main() -> int:
    browser, driver = _program("chromium"), _program("chromedriver")
    scenario = ROOT / "scenarios" / "stapling" / "stapled-revoked.toml"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocsp-lab-screens-") as tmp:
        out = Path(tmp) / "serve"
        tls = free_port()
        with serving(scenario, out, extra=("--tls", str(tls))) as url:
            tls_connect("127.0.0.1", tls, decide=lambda chain, staple: Alert.CERTIFICATE_REVOKED)
            tls_connect("127.0.0.1", tls)  # a peer that checks nothing
            for name in ("server", "server", "intermediate"):
                issuer = "intermediate" if name == "server" else "root"
                subprocess.run(
                    ["openssl", "ocsp", "-issuer", f"{issuer}.pem", "-cert", f"{name}.pem",
                     "-url", f"{url}/", "-CAfile", "root.pem"],
                    cwd=out, capture_output=True, timeout=20, check=False,
                )  # fmt: skip
            for width, height in SIZES:
                csr = _csr(Path(tmp), f"cucm{width}.example.test")  # one name each: a new one
                with chromium(browser, driver, width, height) as page:
                    page.get(f"{url}/~admin/")
                    time.sleep(1.0)  # the stream's first feed; a picture, not a test
                    _shoot(page, f"status-{width}x{height}.png")
                    page.find_element("id", "csr-file").send_keys(str(csr))
                    page.find_element("id", "csr-sign").click()
                    time.sleep(1.0)  # the signed certificate, shown
                    for section in ("tls", "csr"):
                        page.execute_script(
                            f"document.getElementById('{section}-section').scrollIntoView()"
                        )
                        time.sleep(0.2)
                        _shoot(page, f"status-{section}-{width}x{height}.png")
    return 0


def _csr(directory: Path, cn: str) -> Path:
    """A product's CSR, as ``openssl req`` makes it."""
    csr = directory / f"{cn}.csr"
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", f"/O=Product/CN={cn}", "-keyout", str(directory / f"{cn}.key"),
         "-out", str(csr)],
        capture_output=True, timeout=20, check=True,
    )  # fmt: skip
    return csr


def _shoot(page: object, name: str) -> None:
    target = OUT / name
    page.save_screenshot(str(target))  # type: ignore[attr-defined]
    print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
