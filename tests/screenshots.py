"""``make screenshots``: the status page at 1024×768 and 1600×900, into docs/screenshots/.

Serves a scenario with a revoked certificate (``scenarios/basics/revoked.toml``
if present, else the happy path), makes a few requests with ``openssl ocsp``
so that the page has stories to tell, and photographs it in a headless
Chromium (the same set-up as tests/test_status_page.py).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser import chromium, serving

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
    scenario = ROOT / "scenarios" / "basics" / "good.toml"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocsp-lab-screens-") as tmp:
        out = Path(tmp) / "serve"
        with serving(scenario, out) as url:
            for name in ("server", "server", "intermediate"):
                issuer = "intermediate" if name == "server" else "root"
                subprocess.run(
                    ["openssl", "ocsp", "-issuer", f"{issuer}.pem", "-cert", f"{name}.pem",
                     "-url", f"{url}/", "-CAfile", "root.pem"],
                    cwd=out, capture_output=True, timeout=20, check=False,
                )  # fmt: skip
            for width, height in SIZES:
                with chromium(browser, driver, width, height) as page:
                    page.get(f"{url}/~admin/")
                    time.sleep(1.0)  # the stream's first feed; a picture, not a test
                    target = OUT / f"status-{width}x{height}.png"
                    page.save_screenshot(str(target))
                    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
