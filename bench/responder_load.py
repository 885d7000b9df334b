"""Responder load: ours (``ocsp-lab serve``, gunicorn) against ``openssl ocsp -index``.

Same PKI (EC P-256), same request bytes, same run, loopback only. Three
request kinds — POST without nonce (our pre-signed path), POST with a fresh
32-octet nonce per request (signed per request), GET (RFC 5019, no nonce) —
at concurrency 1, 4 and 16, each for a few seconds with Debian's ``wrk``
(installed with apt-get when missing) and a Lua script: the nonce is spliced
into a fixed-length request template, so every request is valid and unique.

OpenSSL's responder (3.0) serves one connection at a time, and wrk opens a
probe connection before the run that it never uses: the responder would sit
on it for good, and connections wrk cuts at the end of a run leave children
stuck too. So it runs with ``-multi`` children (OpenSSL 3.0+) — a stuck probe
holds one child only — and each server is started afresh per measurement.

The machine is shared: each (kind, concurrency) is measured for both servers
back to back, ``ROUNDS`` times over, and the best round of each server is kept
(the least disturbed one); the 1-minute load average at each measurement is in
the note.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import Figure
from pki import CertificateDatabase, build_pki, calendar_t0, write_pki
from responder.testing import ocsp_request, parse_response

__all__ = ["run"]

SECTION = "responder load"
CONCURRENCY = (1, 4, 16)
DURATION_S = 3
#: Rounds per (server, kind, concurrency); the best is kept (OCSP_LAB_BENCH_ROUNDS).
ROUNDS = int(os.environ.get("OCSP_LAB_BENCH_ROUNDS", "2"))
NONCE_LEN = 32
OPENSSL_CHILDREN = 4

_LUA = r"""
local prefix, suffix, path, method = %(prefix)s, %(suffix)s, %(path)s, %(method)s
local nonce_len = %(nonce_len)d
wrk.method = method
wrk.path = path
wrk.headers["Content-Type"] = "application/ocsp-request"
if method == "POST" then wrk.body = prefix .. suffix end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) %% 100000)
request = function()
  if nonce_len == 0 then return wrk.format() end
  local t = {}
  for i = 1, nonce_len do t[i] = string.char(math.random(0, 255)) end
  return wrk.format(nil, nil, nil, prefix .. table.concat(t) .. suffix)
end
done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read
              + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50),
    latency:percentile(99), bad))
end
"""


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, der: bytes, proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    # A full request, never a bare connect: a probe that sends nothing is exactly
    # what leaves an OpenSSL responder child stuck.
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            return _check(url, der)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk could not be installed")
    return found


@contextmanager
def _process(cmd: list[str], cwd: Path, url: str, der: bytes) -> Iterator[str]:
    # Its own process group (not a new session: openssl -multi calls setpgid itself,
    # which a session leader may not): ``openssl ocsp -multi`` children outlive a terminated
    # parent, and one stuck on a half-sent connection spins at 100 % CPU for good
    # (they piled up to a load average of 100 before this). The whole group goes.
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0
    )
    try:
        yield _wait_ready(url, der, proc)
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the group this bench started, nothing else
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)  # children may take a moment after the parent
    proc.wait()


def _check(url: str, der: bytes) -> str:
    request = urllib.request.Request(
        url, data=der, headers={"Content-Type": "application/ocsp-request"}
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        parsed = parse_response(response.read())
    return ",".join(s.status for s in parsed.singles) or parsed.status


def _wrk(wrk: str, url: str, script: Path, connections: int) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{DURATION_S}s",
         "--timeout", "5s", "-s", str(script), url],
        capture_output=True, text=True, timeout=DURATION_S + 30,
    ).stdout  # fmt: skip
    for line in out.splitlines():
        if line.startswith("RESULT "):
            doc: dict[str, float] = json.loads(line[len("RESULT ") :])
            return doc
    raise RuntimeError(f"wrk printed no result:\n{out}")


def _rps(result: dict[str, float]) -> float:
    return result["requests"] / max(1e-9, result["seconds"])


def _measure(
    wrk: str,
    template_cmd: list[str],
    cwd: Path,
    script: Path,
    connections: int,
    plain: bytes,
    server: str,
) -> dict[str, float]:
    # a fresh port too: OpenSSL does not set SO_REUSEADDR (TIME_WAIT)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [a.replace("{port}", str(port)) for a in template_cmd]
    # A fresh server per measurement: connections wrk leaves half-sent at
    # the end of a run (and its probe) leave OpenSSL's children stuck.
    with _process(cmd, cwd, url, plain) as answer:
        if answer != "good":
            raise RuntimeError(f"{server} answered {answer!r}, not good")
        result = _wrk(wrk, url, script, connections)
    result["load"] = os.getloadavg()[0]
    return result


def run() -> list[Figure]:
    """Measure both responders; one figure per (kind, concurrency) plus the ratios."""
    wrk = _ensure_wrk()
    now = dt.datetime.now(dt.UTC)
    work = Path(tempfile.mkdtemp(prefix="ocsp-lab-bench-"))
    pki = build_pki(t0=calendar_t0(now))
    openssl_dir = work / "openssl"
    write_pki(pki, CertificateDatabase.from_pki(pki), openssl_dir, now=now)

    plain = ocsp_request(pki, ["server"])
    template = ocsp_request(pki, ["server"], nonce=b"\x00" * NONCE_LEN)
    cut = template.rindex(b"\x00" * NONCE_LEN)
    kinds = {
        "POST, no nonce": {"method": "POST", "path": "/", "prefix": plain, "suffix": b"",
                           "nonce_len": 0},
        "POST, nonce": {"method": "POST", "path": "/", "prefix": template[:cut],
                        "suffix": template[cut + NONCE_LEN :], "nonce_len": NONCE_LEN},
        "GET": {"method": "GET", "path": "/" + base64.b64encode(plain).decode().replace(
                    "/", "%2F").replace("+", "%2B").replace("=", "%3D"),
                "prefix": b"", "suffix": b"", "nonce_len": 0},
    }  # fmt: skip
    scripts = {}
    for kind, spec in kinds.items():
        path = work / f"{kind.replace(', ', '-').replace(' ', '_')}.lua"
        path.write_text(
            _LUA
            % {
                "prefix": _lua_string(spec["prefix"]),  # type: ignore[arg-type]
                "suffix": _lua_string(spec["suffix"]),  # type: ignore[arg-type]
                "path": json.dumps(spec["path"]),
                "method": json.dumps(spec["method"]),
                "nonce_len": spec["nonce_len"],
            }
        )
        scripts[kind] = path

    workers = os.cpu_count() or 2
    ours_cmd = [sys.executable, "-m", "lab", "serve", "--port", "{port}",
                "--out", str(work / "ours"), "--quiet", "--workers", str(workers),
                "--threads", "4"]  # fmt: skip
    openssl_cmd = ["openssl", "ocsp", "-port", "{port}", "-index",
                   "intermediate.index.txt", "-CA", "intermediate.pem", "-rsigner",
                   "responder.pem", "-rkey", "responder.key", "-ignore_err",
                   "-multi", str(OPENSSL_CHILDREN)]  # fmt: skip
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    servers = (("ocsp-lab", ours_cmd, Path.cwd()), ("openssl", openssl_cmd, openssl_dir))
    for kind, script in scripts.items():
        for connections in CONCURRENCY:
            for _ in range(ROUNDS):
                for server, template_cmd, cwd in servers:
                    measured = _measure(wrk, template_cmd, cwd, script, connections, plain, server)
                    best = results.get((server, kind, connections))
                    if best is None or _rps(measured) > _rps(best):
                        results[(server, kind, connections)] = measured
    shutil.rmtree(work, ignore_errors=True)
    return _figures(results, workers)


def _figures(results: dict[tuple[str, str, int], dict[str, float]], workers: int) -> list[Figure]:
    figures = []
    goals = {"POST, no nonce": 1.0, "POST, nonce": 0.8, "GET": 1.0}
    for (server, kind, connections), r in results.items():
        rps = _rps(r)
        errors = f", {int(r['errors'])} errors" if r["errors"] else ""
        figures.append(
            Figure(
                SECTION,
                f"{server} {kind} c={connections}",
                f"{rps:,.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, "
                f"p99 {r['p99_us'] / 1000:.2f} ms",
                note=f"{int(r['requests'])} requests in {r['seconds']:.1f}s{errors}, "
                f"best of {ROUNDS}, load {r['load']:.1f}",
            )
        )
    for (server, kind, connections), r in results.items():
        if server != "ocsp-lab":
            continue
        theirs = results[("openssl", kind, connections)]
        ratio = _rps(r) / max(1e-9, _rps(theirs))
        p99 = r["p99_us"] / max(1, theirs["p99_us"])
        figures.append(
            Figure(
                SECTION,
                f"ratio ocsp-lab/openssl {kind} c={connections}",
                f"{ratio:.2f}× req/s, p99 {p99:.2f}× openssl's",
                goal=f"≥ {goals[kind]}× req/s, p99 ≤ 1×",
                note=f"gunicorn gthread (keep-serving), {workers} workers × 4 threads; "
                f"openssl -multi {OPENSSL_CHILDREN}",
            )
        )
    figures += [Figure(SECTION, f"finding {i}", "see note", note=text)
                for i, text in enumerate(FINDINGS, 1)]  # fmt: skip
    return figures


#: What the profiles showed and what was changed (see also the figures above).
FINDINGS = (
    "Nonce path, before: cProfile of one signed answer, ~7,800 Python calls and ~1.3 ms "
    "per request in-process on an idle core, of which the ECDSA P-256 signature is ~25 µs: "
    "asn1crypto re-serialised the embedded responder certificate on every response (a new "
    "Sequence re-dumps every parsed child, recursively) and rebuilt every SingleResponse, "
    "the ResponderID and the algorithm; Flask's request/response objects came on top.",
    "Nonce path, after: a response is assembled from DER pieces that asn1crypto encoded — "
    "once per signer (ResponderID, the [0] certs field, the signature algorithm), memoised "
    "per set of answers (the `responses` field, keyed on everything a SingleResponse says, "
    "thisUpdate included: reused within the same second only, so the bytes are exactly what "
    "encoding anew gives — tests/test_responder_fastpath.py holds sign() to a from-scratch "
    "build for every certs/responderID/extension variant), and per request producedAt, the "
    "nonce extension, the signature; asn1crypto writes the tag and length of each enclosing "
    "SEQUENCE around its fields' DER (`contents=`). sign() went from ~7,000 to ~210 Python "
    "calls, decode + look-up + sign from ~7,800 to ~650 (~6-8× less time in A/B runs in one "
    "process); what is left is mostly asn1crypto parsing the request (~380 calls). RFC 6979 "
    "deterministic ECDSA kept: random-k signing is only ~2-5 µs faster.",
    "HTTP layer: every OCSP POST/GET now goes through the thin WSGI layer (bytes → source → "
    "bytes), Flask only for the admin API, other methods, and POSTs without a usable "
    "Content-Length (empty, chunked, over 64 KiB: 413); any exception there is internalError, "
    "never a 500.",
    "Cached path and c=1: a cache hit is ~10 µs in-process; the time goes to gunicorn's "
    "gthread hand-offs — per kept-alive request the poller thread wakes, queues the "
    "connection to a pool thread, which answers and wakes the poller again through a pipe "
    "(three thread switches, each waiting for the GIL and, on a busy box, for a CPU). serve's "
    "worker is now gthread with a keep-serving loop: the thread that answered waits up to "
    "5 ms for the next request on the same connection and serves it itself, only while no "
    "other connection waits for a thread, at most 100 in a row (`--stock-gthread` for the "
    "old behaviour). It also hands a new connection that has sent nothing to the poller after "
    "5 ms: gunicorn 27's gthread blocks a pool thread up to 5 s on it, so 2 silent clients "
    "froze a 2-thread worker (now a test).",
    "Load: until this change the bench stopped only the `openssl ocsp` parent; its -multi "
    "children outlived it, and those stuck on a connection wrk cut spun at 100 % CPU for "
    "good. Runs piled up 136 of them (load average ~100 on 2 cores), which is what made the "
    "earlier figures in this file (0.43× … 0.17×) so low and so noisy. Each server now runs "
    "in its own process group and the whole group is stopped. The figures above were taken "
    "after that, on an otherwise idle machine (load in each note), ours and openssl back to "
    "back, best of the rounds.",
)
