"""What fresh leaves cost a product run: a scenario's PKI built for a product, and the bundle.

Per scenario of the catalog, :func:`lab.product_pki.build_for_product` with
the CAs' keys already memoised (they are the same in every scenario) and the
leaves' keys new (their namespace is the scenario id): the PKI share of the
lab's overhead per scenario in a product run. Elliptic-curve and Ed25519
scenarios are timed apart from RSA ones: a new RSA key is a prime search
(pure Python, pycryptodome), paid once per scenario and installation and
then read from the on-disk key cache. Also ``ocsp-lab pki trust-bundle`` on
the whole catalog, in process.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Figure, cli_milliseconds, percentile
from lab.product_pki import build_for_product
from lab.scenario import Scenario, read_scenarios
from pki import KeyType, PKISpec, build_pki
from pki.keys import derive_key
from pki.secret import LabSecret

SECTION = "Product PKI (fresh leaves, stable CAs)"
_URL = "http://127.0.0.1:8080/"
_T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_CATALOG = Path(__file__).resolve().parent.parent / "scenarios"


def _uses_rsa(scenario: Scenario) -> bool:
    spec = scenario.pki
    return any((c.key or spec.key).value.startswith("rsa") for c in spec.certs)


def _first_builds(scenarios: list[Scenario], secret: LabSecret) -> list[float]:
    """Milliseconds of each scenario's first product build in this process."""
    samples = []
    for scenario in scenarios:
        start = time.perf_counter()
        build_for_product(scenario, _URL, secret, _T0)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _row(what: str, samples: list[float], goal: str = "") -> Figure:
    return Figure(
        SECTION,
        what,
        f"{statistics.median(samples):.1f} ms",
        goal,
        f"p90 {percentile(samples, 0.9):.1f} ms, max {max(samples):.1f} ms "
        f"over {len(samples)} scenarios",
    )


def run() -> list[Figure]:
    scenarios = list(read_scenarios([_CATALOG]).scenarios)
    elliptic = [s for s in scenarios if not _uses_rsa(s)]
    rsa = [s for s in scenarios if _uses_rsa(s)]
    figures = []
    saved = os.environ.get("OCSP_LAB_CACHE")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["OCSP_LAB_CACHE"] = cache  # an empty RSA key cache: the first run's cost
        try:
            secret = LabSecret(os.urandom(32), "a bench secret")
            derive_key.cache_clear()
            for key in KeyType:  # the CAs' keys, shared by every scenario, made once
                build_pki(PKISpec(key=key, seed=secret.value), base_url=_URL, t0=_T0)
            figures.append(
                _row(
                    "EC / Ed25519 scenario, new leaves", _first_builds(elliptic, secret), "< 50 ms"
                )
            )
            figures.append(
                _row("RSA scenario, new leaves, empty key cache", _first_builds(rsa, secret))
            )
            derive_key.cache_clear()  # a new process: RSA keys come from the disk cache
            for key in KeyType:
                build_pki(PKISpec(key=key, seed=secret.value), base_url=_URL, t0=_T0)
            figures.append(_row("RSA scenario, keys on disk", _first_builds(rsa, secret)))
            out = Path(cache) / "bundle"
            secret_file = Path(cache) / "secret"
            secret_file.write_bytes(secret.value)
            secret_file.chmod(0o600)
            argv = ["pki", "trust-bundle", "--out", str(out), "--secret-file", str(secret_file)]
            samples = cli_milliseconds([*argv, "--t0", "2026-01-01", str(_CATALOG)], runs=3)
            figures.append(
                Figure(
                    SECTION,
                    f"pki trust-bundle, whole catalog ({len(scenarios)} scenarios)",
                    f"{statistics.median(samples):.0f} ms",
                    note="median of 3, in process, keys memoised after the first",
                )
            )
        finally:
            if saved is None:
                os.environ.pop("OCSP_LAB_CACHE", None)
            else:
                os.environ["OCSP_LAB_CACHE"] = saved
    return figures
