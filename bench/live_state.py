"""Live state at a real CA's scale: 1,000,000 certificates against the default 10.

- **commit**: an acknowledged change (``hold`` / ``release``: BEGIN IMMEDIATE,
  UPDATE, COMMIT with ``synchronous = FULL``, so an fsync of the WAL) timed in
  process, median of alternating changes.
- **lookup miss**: one indexed ``SELECT`` for a serial not yet looked up in
  this database version (lookups are remembered per version, so a repeated
  serial costs a dictionary look-up).
- **throughput**: ``ocsp-lab serve`` (2 asgi workers) under wrk, c=4, POST
  without and with a nonce, on the state with 10 rows and with 1,000,000 —
  the same PKI, the same request bytes, in the same run.

Goals (issue 11): a commit in under 5 ms; throughput within 10 %.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.report import Figure
from bench.responder_load import (
    NONCE_LEN,
    _ensure_wrk,
    _free_port,
    _process,
    _rps,
    _wait_listening,
    _wrk,
    post_script,
)
from pki import PKI, PKISpec, build_pki, calendar_t0
from pki.secret import installation_secret
from responder.app import create_app, lab_responder
from responder.store import STATE_DB
from responder.testing import ocsp_request

__all__ = ["run"]

SECTION = "live state"
ROWS = 1_000_000
BASE_URL = "http://127.0.0.1:18080/"  # fixed: the state's identity must not follow the port
COMMITS = 60
ROUNDS = 3


def _fill(directory: Path, rows: int) -> None:
    """Add ``rows`` records of an imported CA database to the state (as index.txt would)."""
    rng = random.Random(1)
    with sqlite3.connect(directory / STATE_DB) as db:
        db.executemany(
            "INSERT OR IGNORE INTO records (ca, serial, name, status, not_after, subject, "
            "revoked_at, reason) VALUES ('intermediate', ?, NULL, ?, '2099-01-01T00:00:00+00:00', "
            "?, ?, ?)",
            (
                (
                    format(rng.getrandbits(64) | (1 << 63), "040X"),
                    "revoked" if i % 50 == 0 else "good",
                    f"/O=customer/CN=device-{i}",
                    "2025-06-01T00:00:00+00:00" if i % 50 == 0 else None,
                    "keyCompromise" if i % 50 == 0 else None,
                )
                for i in range(rows)
            ),
        )


def _commit_ms(directory: Path, pki_t0: dt.datetime) -> tuple[float, float]:
    """Median and p90 of one acknowledged change, in ms."""
    pki = _served_pki(pki_t0)
    state = lab_responder(create_app(pki, state_dir=directory)).state
    samples = []
    for i in range(COMMITS):
        start = time.perf_counter()
        if i % 2:
            state.release("server")
        else:
            state.hold("server", dt.datetime.now(dt.UTC))
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def _miss_us(directory: Path, pki_t0: dt.datetime, serials: list[int]) -> float:
    pki = _served_pki(pki_t0)
    database = lab_responder(create_app(pki, state_dir=directory)).state.database
    start = time.perf_counter()
    for serial in serials:
        database.lookup("intermediate", serial)
    return (time.perf_counter() - start) / len(serials) * 1e6


def _served_pki(t0: dt.datetime) -> PKI:
    """The PKI ``serve`` builds: the default one, from this installation's secret."""
    spec = replace(PKISpec(), seed=installation_secret(None).value)
    return build_pki(spec, base_url=BASE_URL, t0=t0)


def _serve_cmd(directory: Path) -> list[str]:
    return [
        sys.executable, "-m", "lab", "serve", "--port", "{port}", "--out", str(directory),
        "--base-url", BASE_URL, "--workers", "2", "--quiet",
    ]  # fmt: skip


def run() -> list[Figure]:
    wrk = _ensure_wrk()
    t0 = calendar_t0(dt.datetime.now(dt.UTC))
    work = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-live-"))
    pki = _served_pki(t0)
    plain = ocsp_request(pki, ["server"])
    template = ocsp_request(pki, ["server"], nonce=b"\x00" * NONCE_LEN)
    small, large = work / "small", work / "large"
    for directory in (small, large):
        # serve makes the state (and its identity) once; the large one is then filled
        port = _free_port()
        cmd = [a.replace("{port}", str(port)) for a in _serve_cmd(directory)]
        with _process(cmd, work, f"http://127.0.0.1:{port}/", plain):
            pass
    start = time.perf_counter()
    _fill(large, ROWS)
    fill_s = time.perf_counter() - start

    figures: list[Figure] = []
    commits = {}
    for label, directory in (("10 rows", small), ("1,000,000 rows", large)):
        median, p90 = _commit_ms(directory, t0)
        commits[label] = median
        figures.append(
            Figure(
                SECTION,
                f"commit (hold/release), {label}",
                f"{median:.2f} ms",
                "< 5 ms",
                f"p90 {p90:.2f} ms, {COMMITS} changes, synchronous=FULL",
            )
        )
    rng = random.Random(7)
    serials = [rng.getrandbits(64) | (1 << 63) for _ in range(2000)]
    for label, directory in (("10 rows", small), ("1,000,000 rows", large)):
        figures.append(
            Figure(
                SECTION,
                f"lookup miss, {label}",
                f"{_miss_us(directory, t0, serials):.1f} µs",
                "",
                "one indexed SELECT per serial not yet seen in this version",
            )
        )

    results: dict[tuple[str, str], float] = {}
    for kind, der in (("no nonce", plain), ("nonce", template)):
        script = post_script(work, kind.replace(" ", "-"), der, nonce=kind == "nonce")
        # Interleaved rounds, a fresh server each: the machine's drift falls on both alike.
        for _ in range(ROUNDS):
            for label, directory in (("10 rows", small), ("1,000,000 rows", large)):
                port = _free_port()
                url = f"http://127.0.0.1:{port}/"
                cmd = [a.replace("{port}", str(port)) for a in _serve_cmd(directory)]
                with _process(cmd, work, url, plain) as (answer, _pgid):
                    assert answer == "good", answer
                    _wait_listening(port, 2)
                    rps = _rps(_wrk(wrk, url, script, 4))
                results[kind, label] = max(rps, results.get((kind, label), 0.0))
        for label in ("10 rows", "1,000,000 rows"):
            figures.append(
                Figure(
                    SECTION,
                    f"POST {kind}, c=4, {label}",
                    f"{results[kind, label]:,.0f} req/s",
                    "",
                    f"ocsp-lab serve, 2 asgi workers, wrk 3 s, best of {ROUNDS} interleaved rounds",
                )
            )
        ratio = results[kind, "1,000,000 rows"] / results[kind, "10 rows"]
        figures.append(
            Figure(
                SECTION,
                f"POST {kind}: 1,000,000 rows ÷ 10 rows",
                f"{ratio:.2f}×",
                "≥ 0.90×",
                "throughput within 10 %",
            )
        )
    size_mb = (large / STATE_DB).stat().st_size / 1e6
    figures.append(
        Figure(
            SECTION,
            "1,000,000 rows: state database",
            f"{size_mb:.0f} MB",
            "",
            f"filled in {fill_s:.1f} s (one transaction)",
        )
    )
    return figures
