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
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
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
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield _wait_ready(url, der, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
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
    for server, template_cmd, cwd in (
        ("ocsp-lab", ours_cmd, Path.cwd()),
        ("openssl", openssl_cmd, openssl_dir),
    ):
        for kind, script in scripts.items():
            for connections in CONCURRENCY:
                # a fresh port too: OpenSSL does not set SO_REUSEADDR (TIME_WAIT)
                port = _free_port()
                url = f"http://127.0.0.1:{port}/"
                cmd = [a.replace("{port}", str(port)) for a in template_cmd]
                # A fresh server per measurement: connections wrk leaves half-sent at
                # the end of a run (and its probe) leave OpenSSL's children stuck.
                with _process(cmd, cwd, url, plain) as answer:
                    if answer != "good":
                        raise RuntimeError(f"{server} answered {answer!r}, not good")
                    results[(server, kind, connections)] = _wrk(wrk, url, script, connections)
    shutil.rmtree(work, ignore_errors=True)
    return _figures(results, workers)


def _figures(results: dict[tuple[str, str, int], dict[str, float]], workers: int) -> list[Figure]:
    figures = []
    goals = {"POST, no nonce": 1.0, "POST, nonce": 0.8, "GET": 1.0}
    for (server, kind, connections), r in results.items():
        rps = r["requests"] / r["seconds"]
        errors = f", {int(r['errors'])} errors" if r["errors"] else ""
        figures.append(
            Figure(
                SECTION,
                f"{server} {kind} c={connections}",
                f"{rps:,.0f} req/s, p50 {r['p50_us'] / 1000:.2f} ms, "
                f"p99 {r['p99_us'] / 1000:.2f} ms",
                note=f"{int(r['requests'])} requests in {r['seconds']:.1f}s{errors}",
            )
        )
    for (server, kind, connections), r in results.items():
        if server != "ocsp-lab":
            continue
        theirs = results[("openssl", kind, connections)]
        ratio = (r["requests"] / r["seconds"]) / max(1e-9, theirs["requests"] / theirs["seconds"])
        p99 = r["p99_us"] / max(1, theirs["p99_us"])
        figures.append(
            Figure(
                SECTION,
                f"ratio ocsp-lab/openssl {kind} c={connections}",
                f"{ratio:.2f}× req/s, p99 {p99:.2f}× openssl's",
                goal=f"≥ {goals[kind]}× req/s, p99 ≤ 1×",
                note=f"gunicorn gthread, {workers} workers × 4 threads; openssl -multi "
                f"{OPENSSL_CHILDREN}",
            )
        )
    figures.append(
        Figure(
            SECTION,
            "findings",
            "see note",
            note="Cached path: request bytes are the cache key and a WSGI middleware answers "
            "hits before Flask (no Request/Response objects); gthread workers keep "
            "connections alive, openssl closes each one. Nonce path: cProfile shows "
            "asn1crypto building and dumping the structures costs more than the ECDSA "
            "signature; the next lever is pre-encoded SingleResponse/certs DER per "
            "(CertIDs, database version) so only producedAt and the nonce are encoded per "
            "request. Figures taken on a shared 2-core machine under heavy load are noisy.",
        )
    )
    return figures
