"""Run every benchmark section and write bench/results.md.

``python -m bench [SECTION ...]`` — sections: see ``SECTIONS``.
"""

from __future__ import annotations

import importlib
import sys

from bench.report import Figure, write_results

#: Each module exposes ``run() -> list[Figure]``.
SECTIONS = (
    "bench.pki_build",
    "bench.responder_load",
    "bench.validator_speed",
    "bench.catalog_run",
    "bench.live_state",
    "bench.check_speed",
    "bench.status_page",
    "bench.tls_handshake",
    "bench.catalog_tls",
    "bench.product_pki",
    "bench.product_run",
    "bench.index_scale",
)


def main(argv: list[str]) -> int:
    chosen = [s for s in SECTIONS if not argv or s.rsplit(".", 1)[-1] in argv]
    figures: list[Figure] = []
    for name in chosen:
        print(f"== {name}", flush=True)
        section = importlib.import_module(name).run()
        for f in section:
            print(f"  {f.what}: {f.value} {f.note}", flush=True)
        figures += section
    path = write_results(figures, "make bench" + (" " + " ".join(argv) if argv else ""))
    print(f"written to {path}")
    return 0


raise SystemExit(main(sys.argv[1:]))
