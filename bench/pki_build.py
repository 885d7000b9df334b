"""Time to build the default PKI per key type: cold (keys derived) and warm (keys memoised).

"Cold" is a fresh process with an empty on-disk key cache, timed after the
imports (reported on their own), so it is the true cost of deriving the keys
and signing; "cold, disk cache" is a fresh process that finds the RSA keys on
disk (what a second `make run` pays).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

from bench.report import Figure, median_seconds
from pki import KeyType, PKISpec, build_pki

SECTION = "PKI build (default PKI, 6 certificates)"

_COLD = """
import sys, time
start = time.perf_counter()
from pki import build_pki, PKISpec, KeyType
imported = time.perf_counter()
build_pki(PKISpec(key=KeyType(sys.argv[1])))
print(time.perf_counter() - imported, imported - start)
"""


def _cold(key: KeyType, cache: str) -> tuple[float, float]:
    """(build, import) seconds in a fresh process."""
    env = dict(os.environ, OCSP_LAB_CACHE=cache)
    proc = subprocess.run(
        [sys.executable, "-c", _COLD, key.value],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    build, imports = proc.stdout.split()
    return float(build), float(imports)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def run() -> list[Figure]:
    figures = []
    imports: list[float] = []
    for key in KeyType:
        rsa = key.value.startswith("rsa")
        runs = 3 if rsa else 7
        with tempfile.TemporaryDirectory() as cache:
            samples = [_cold(key, tempfile.mkdtemp(dir=cache)) for _ in range(runs)]
            imports += [i for _, i in samples]
            cold = statistics.median(b for b, _ in samples)
            figures.append(
                Figure(SECTION, f"{key.value} cold", _ms(cold), note=f"median of {runs} processes")
            )
            if rsa:
                on_disk = statistics.median(_cold(key, cache)[0] for _ in range(runs))
                figures.append(
                    Figure(SECTION, f"{key.value} cold, disk cache", _ms(on_disk), note="keys read")
                )
        spec = PKISpec(key=key)
        build_pki(spec)  # memoise the keys in this process
        warm = median_seconds(lambda spec=spec: build_pki(spec), runs=25)  # type: ignore[misc]
        goal = "< 20 ms" if key is KeyType.EC_P256 else ""
        figures.append(Figure(SECTION, f"{key.value} warm", _ms(warm), goal, "median of 25"))
    figures.append(
        Figure(SECTION, "import pki, fresh process", _ms(statistics.median(imports)), note="median")
    )
    return figures
