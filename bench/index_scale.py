"""``[responder] index`` at a real CA's scale: a 1,000,000-line index.txt, ours beside OpenSSL.

One generated index.txt of the lab's intermediate (sequential serials, as
``openssl ca`` hands them out; one line in 20 revoked), served in the same
run by ``openssl ocsp -index`` and by ``ocsp-lab serve`` (2 asgi workers)
with ``[responder] index`` naming the same file:

- **time to first answer**: from the process start to the first ``good``
  for a serial of the file, polled every 20 ms: OpenSSL's start-up, our
  first start (the import into the live state) and our restart on the
  imported state;
- **resident memory**: the peak (VmHWM, proc(5)) of each serving process,
  the largest one and the sum over the process group;
- **throughput**: wrk, c=4, POST without a nonce (pre-signed path) and with a
  fresh nonce per request, for an index serial on the 1,000,000-line state
  and for the lab's ``server`` on the default 10-certificate database, in
  interleaved rounds, best kept; with the servers' own CPU time per request
  (proc(5) stat of the process group), steadier than req/s on a shared
  machine where the same configuration varies by ±40 % between runs;
- **a live revocation written back**: ``POST /~admin/revoke`` by serial,
  timed from the client until the answer (committed, and the exported
  index.txt rewritten: :mod:`responder.index_state`), median of 20.

Goals (issue 14): first start within 2× OpenSSL's start-up, restart < 1 s,
memory ≤ OpenSSL's, throughput within 10 %, a write-back < 50 ms.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import Figure
from bench.responder_load import (
    NONCE_LEN,
    _ensure_wrk,
    _free_port,
    _group_cpu_seconds,
    _rps,
    _stop_group,
    _wait_listening,
    _wrk,
    post_script,
)
from pki.certid import CertID, issuer_hashes
from responder.testing import ocsp_request, parse_response

__all__ = ["run"]

SECTION = "index scale"
LINES = int(os.environ.get("OCSP_LAB_BENCH_INDEX_LINES", "1000000"))
BASE_URL = "http://127.0.0.1:18081/"  # fixed: the state's identity must not follow the port
FIRST_SERIAL = 0x10000000
REVOCATIONS = 20
ROUNDS = 2
#: wrk on a shared machine varies by ±40 % run to run: more interleaved rounds, best kept.
THROUGHPUT_ROUNDS = 4


def _generate(path: Path, lines: int) -> None:
    """``lines`` lines as ``openssl ca`` writes them: V, and R (keyCompromise) one in 20."""
    with path.open("w", newline="\n") as out:
        for n in range(lines):
            serial = format(FIRST_SERIAL + n, "X")
            subject = f"/C=US/O=Example Corp/OU=Devices/CN=device-{n:07d}.example.com"
            if n % 20 == 7:
                out.write(
                    f"R\t271231235959Z\t260101000000Z,keyCompromise\t{serial}\tunknown\t{subject}\n"
                )
            else:
                out.write(f"V\t271231235959Z\t\t{serial}\tunknown\t{subject}\n")


@contextmanager
def _started(cmd: list[str], cwd: Path, url: str, der: bytes) -> Iterator[tuple[float, int]]:
    """Start ``cmd`` (own process group); yield (seconds to its first answer, group id)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, process_group=0
    )
    try:
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {err}")
            try:
                answer = _check_quick(url, der)
                break
            except OSError:
                time.sleep(0.02)
        elapsed = time.perf_counter() - start
        if answer != "good":
            raise RuntimeError(f"{' '.join(cmd[:4])} answered {answer!r}, not good")
        yield elapsed, proc.pid
    finally:
        _stop_group(proc)


def _check_quick(url: str, der: bytes) -> str:
    """One request with a short timeout: a connection accepted into a backlog nobody
    serves yet (gunicorn starting its workers) is retried, not waited on for 20 s."""
    request = urllib.request.Request(
        url, data=der, headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(request, timeout=1) as response:
        parsed = parse_response(response.read())
    return ",".join(s.status for s in parsed.singles) or parsed.status


def _peak_mb(pgid: int) -> tuple[float, float]:
    """(largest, sum of) the peak resident set (VmHWM) of the processes of group ``pgid``."""
    peaks = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[2]) != pgid:
                    continue
            with open(f"/proc/{entry}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks, default=0.0), sum(peaks)


def _revoke_ms(url: str, serials: list[int]) -> list[float]:
    samples = []
    for serial in serials:
        body = json.dumps({"serial": format(serial, "X"), "reason": "superseded"}).encode()
        request = urllib.request.Request(
            f"{url}~admin/revoke", data=body, headers={"Content-Type": "application/json"}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=20) as answer:
            answer.read()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run() -> list[Figure]:
    from lab.commands.pki_build import product_pki

    wrk = _ensure_wrk()
    now = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-index-"))
    index = work / "index.txt"
    start = time.perf_counter()
    _generate(index, LINES)
    generated_s = time.perf_counter() - start
    scenario = work / "big.toml"
    scenario.write_text(
        'title = "a million-line CA database"\n'
        '[responder]\nindex = { intermediate = "index.txt" }\n'
    )
    # The served PKI (this installation's secret), for openssl too. Not "pki":
    # ``python -m lab`` runs in ``work`` and would import it as the package.
    pki_dir = work / "pki-files"
    pki, _db, _secret = product_pki(
        None, out=pki_dir, secret_file=None, base_url=BASE_URL, t0=None, now=now
    )
    build = [sys.executable, "-m", "lab", "pki", "build", "--out", str(pki_dir)]
    subprocess.run([*build, "--base-url", BASE_URL], check=True, capture_output=True)
    ca = pki["intermediate"].certificate
    name_hash, key_hash = issuer_hashes(ca, "sha1")
    asked = FIRST_SERIAL + LINES // 2 + 1  # a V line in the middle of the file
    index_id = CertID("sha1", name_hash, key_hash, asked)
    plain = ocsp_request(pki, [], cert_ids=[index_id])
    with_nonce = ocsp_request(pki, [], cert_ids=[index_id], nonce=b"\x00" * NONCE_LEN)
    server_plain = ocsp_request(pki, ["server"])
    server_nonce = ocsp_request(pki, ["server"], nonce=b"\x00" * NONCE_LEN)

    def ours(directory: Path, port: int, scenario_file: Path | None) -> list[str]:
        return [
            sys.executable, "-m", "lab", "serve", *([str(scenario_file)] if scenario_file else []),
            "--port", str(port), "--out", str(directory), "--base-url", BASE_URL,
            "--workers", "2", "--quiet",
        ]  # fmt: skip

    def openssl(port: int) -> list[str]:
        return [
            "openssl", "ocsp", "-port", str(port), "-index", str(index), "-CA", "intermediate.pem",
            "-rsigner", "responder.pem", "-rkey", "responder.key", "-ignore_err",
        ]  # fmt: skip

    figures: list[Figure] = []
    openssl_s: list[float] = []
    openssl_mb = 0.0
    for _ in range(ROUNDS):
        port = _free_port()
        with _started(openssl(port), pki_dir, f"http://127.0.0.1:{port}/", plain) as (s, pgid):
            openssl_s.append(s)
            openssl_mb = max(openssl_mb, _peak_mb(pgid)[0])
    first_s: list[float] = []
    restart_s: list[float] = []
    ours_peak = ours_sum = 0.0
    revoke: list[float] = []
    big = work / "ours"
    for round_ in range(ROUNDS):
        directory = work / f"first-{round_}"
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        with _started(ours(directory, port, scenario), work, url, plain) as (s, pgid):
            first_s.append(s)
            _wait_listening(port, 2)
            peak, total = _peak_mb(pgid)
            ours_peak, ours_sum = max(ours_peak, peak), max(ours_sum, total)
        big = directory
    for _ in range(ROUNDS):
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        with _started(ours(big, port, scenario), work, url, plain) as (s, pgid):
            restart_s.append(s)
            _wait_listening(port, 2)
            if not revoke:
                step = LINES // (REVOCATIONS + 1)
                revoke = _revoke_ms(
                    url, [FIRST_SERIAL + 3 + step * n for n in range(1, REVOCATIONS + 1)]
                )
            peak, total = _peak_mb(pgid)
            ours_peak, ours_sum = max(ours_peak, peak), max(ours_sum, total)

    small = work / "small"
    baseline_s: list[float] = []
    for _ in range(ROUNDS + 1):  # the first makes the state; the others restart on it
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        with _started(ours(small, port, None), work, url, server_plain) as (s, _pgid):
            baseline_s.append(s)

    openssl_best = min(openssl_s)
    size_mb = index.stat().st_size / 1e6
    restart_note = (
        f"best of {ROUNDS}; serve of the 10-certificate default PKI restarts in "
        f"{min(baseline_s[1:]):.2f} s (Python, PKI, gunicorn: the part without the index)"
    )
    rows = [
        (f"openssl ocsp -index, {LINES:,} lines: first answer", f"{openssl_best:.2f} s", "",
         f"best of {ROUNDS}; index.txt {size_mb:.0f} MB, generated in {generated_s:.1f} s"),
        ("ocsp-lab serve, first start (import): first answer", f"{min(first_s):.2f} s",
         f"≤ {2 * openssl_best:.2f} s (2× openssl)", f"best of {ROUNDS}, 2 asgi workers"),
        ("ocsp-lab serve, restart on the imported state: first answer",
         f"{min(restart_s):.2f} s", "< 1 s", restart_note),
        ("openssl ocsp -index: peak resident memory", f"{openssl_mb:.0f} MB", "",
         "VmHWM, one process"),
        ("ocsp-lab serve: peak resident memory, largest process", f"{ours_peak:.0f} MB",
         f"≤ {openssl_mb:.0f} MB",
         f"VmHWM; master and 2 workers together {ours_sum:.0f} MB (shared pages in each)"),
        ("live revocation written back (POST /~admin/revoke by serial)",
         f"{statistics.median(revoke):.1f} ms", "< 50 ms",
         f"median of {len(revoke)}, max {max(revoke):.1f} ms; commit, journal, 2 writes, fsyncs"),
    ]  # fmt: skip
    figures += [Figure(SECTION, *row) for row in rows]

    results: dict[tuple[str, str], float] = {}
    cpu_us: dict[tuple[str, str], list[float]] = {}
    for kind, nonce in (("no nonce", False), ("nonce", True)):
        scripts = {
            "index": post_script(
                work, f"index-{nonce}", with_nonce if nonce else plain, nonce=nonce
            ),
            "10 certificates": post_script(
                work, f"small-{nonce}", server_nonce if nonce else server_plain, nonce=nonce
            ),
        }
        for _ in range(THROUGHPUT_ROUNDS):
            for label, directory, scenario_file, der in (
                ("index", big, scenario, plain),
                ("10 certificates", small, None, server_plain),
            ):
                port = _free_port()
                url = f"http://127.0.0.1:{port}/"
                with _started(ours(directory, port, scenario_file), work, url, der) as (_s, pgid):
                    _wait_listening(port, 2)
                    before = _group_cpu_seconds(pgid)
                    result = _wrk(wrk, url, scripts[label], 4)
                    used = _group_cpu_seconds(pgid) - before
                rps = _rps(result)
                cpu_us.setdefault((kind, label), []).append(used / result["requests"] * 1e6)
                results[kind, label] = max(rps, results.get((kind, label), 0.0))
        ratio = results[kind, "index"] / results[kind, "10 certificates"]
        ours_cpu = min(cpu_us[kind, "index"])
        small_cpu = min(cpu_us[kind, "10 certificates"])
        figures.append(
            Figure(
                SECTION,
                f"POST {kind}, c=4: {LINES:,}-line index ÷ 10 certificates",
                f"{ratio:.2f}×",
                "≥ 0.90×",
                f"{results[kind, 'index']:,.0f} vs {results[kind, '10 certificates']:,.0f} "
                f"req/s, best of {THROUGHPUT_ROUNDS} interleaved, wrk 3 s; server CPU per "
                f"request {ours_cpu:.0f} vs {small_cpu:.0f} µs ({small_cpu / ours_cpu:.2f}×)",
            )
        )
    subprocess.run(["rm", "-rf", str(work)], check=False)
    return figures
