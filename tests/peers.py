"""Real peers for interop tests: the ``openssl`` command line.

The OpenSSL client exits 0 on a revoked and on a stale answer, so tests parse
what it prints (``<file>: good`` / ``revoked`` / ``unknown``, ``Response
verify OK``), never its exit code.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OpenSSLAnswer", "openssl_ocsp_client", "openssl_ocsp_responder", "openssl_tls_server"]

_ACCEPT = re.compile(rb"ACCEPT \S*:(\d+)")
_STATUS = re.compile(r"^(?P<file>\S+): (?P<status>good|revoked|unknown)$", re.M)
_REASON = re.compile(r"^\s*Reason: (\S+)$", re.M)


@contextmanager
def openssl_ocsp_responder(
    directory: Path,
    *,
    index: str,
    ca: str,
    rsigner: str,
    rkey: str,
    extra: Sequence[str] = (),
) -> Iterator[str]:
    """``openssl ocsp -index`` on an ephemeral loopback port; yields its URL.

    ``-ignore_err`` keeps it serving after a bad request. The process is
    killed on exit, whatever happened.
    """
    cmd = [
        "openssl", "ocsp", "-port", "0", "-index", index, "-CA", ca,
        "-rsigner", rsigner, "-rkey", rkey, "-ignore_err", *extra,
    ]  # fmt: skip
    # OpenSSL prints "ACCEPT [::]:PORT" on stdout and the rest on stderr: read both.
    proc = subprocess.Popen(cmd, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{_port_from(proc, 'openssl ocsp')}/"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _port_from(proc: subprocess.Popen[bytes], what: str) -> int:
    """The port of the "ACCEPT host:PORT" line ``proc`` prints first (10 s at most)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    seen = b""
    deadline = time.monotonic() + 10
    while (match := _ACCEPT.search(seen)) is None:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start: {seen.decode(errors='replace')}")
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 4096)
    return int(match.group(1))


@contextmanager
def openssl_tls_server(
    directory: Path,
    *,
    cert: str,
    key: str,
    chain: str | None = None,
    status_file: str | None = None,
) -> Iterator[int]:
    """``openssl s_server`` on an ephemeral loopback port; yields the port.

    ``status_file``: a DER OCSPResponse it staples to every handshake that
    asks (``-status_file``). The process is killed on exit.
    """
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key]
    if chain:
        cmd += ["-cert_chain", chain]
    if status_file:
        cmd += ["-status_file", status_file]
    # stdin stays open: at its end s_server stops serving ("DONE").
    proc = subprocess.Popen(
        cmd, cwd=directory, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield _port_from(proc, "openssl s_server")
    finally:
        proc.kill()
        proc.wait(timeout=10)
        assert proc.stdin is not None
        proc.stdin.close()


@dataclass(frozen=True)
class OpenSSLAnswer:
    """What ``openssl ocsp`` printed, parsed."""

    output: str
    statuses: dict[str, str]  # file -> good / revoked / unknown
    verified: bool  # "Response verify OK"
    reasons: list[str]

    @property
    def nonce_warning(self) -> bool:
        return "WARNING: no nonce in response" in self.output


def openssl_ocsp_client(args: Sequence[str], *, cwd: Path, timeout: float = 20) -> OpenSSLAnswer:
    """Run ``openssl ocsp ARGS`` as a client and parse what it printed."""
    proc = subprocess.run(
        ["openssl", "ocsp", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    output = proc.stdout + proc.stderr
    return OpenSSLAnswer(
        output=output,
        statuses={m["file"]: m["status"] for m in _STATUS.finditer(output)},
        verified="Response verify OK" in output,
        reasons=_REASON.findall(output),
    )
